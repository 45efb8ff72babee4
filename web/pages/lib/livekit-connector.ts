/**
 * The console's LiveKit connector: the agent joins the call's room through the widget's own room
 * join (web/widget/room.ts, shared, not copied). It and livekit-client are a chunk of their own,
 * loaded when an agent first answers a LiveKit call: the console's first paint does not wait for them.
 */
import { MediaProblem, registerMediaConnector } from './media';

registerMediaConnector('livekit', {
  async prepare() {
    const rooms = await import('../../widget/room');
    let microphone: Awaited<ReturnType<typeof rooms.openMicrophone>>;
    try {
      microphone = await rooms.openMicrophone();
    } catch (e) {
      if (e instanceof rooms.MicrophoneDeniedError)
        throw new MediaProblem('Microphone access was denied, so the call was not answered: allow the microphone for this page (the icon in the address bar), then press Answer again.');
      throw new MediaProblem(`No microphone could be opened (${(e as Error).message}), so the call was not answered: connect one, then press Answer again.`);
    }
    let used = false;
    return {
      async connect(join, events) {
        used = true;
        const joined = await rooms.joinRoom({
          url: join.url,
          token: join.token,
          microphone,
          onRemoteAudio: () => events.onRemoteAudio(),
          onDisconnected: () => events.onLost(),
        });
        return {
          setMuted: (muted) => joined.setMuted(muted),
          async setSound(choice) {
            joined.setEchoSuppression(choice === 'ECHO_HEARD');
            const a = await joined.applyProcessing({ echoCancellation: choice !== 'HEADSET' });
            const on = (v: boolean | null) => (v === null ? 'not reported' : v ? 'on' : 'off');
            return `echo cancellation ${on(a.echoCancellation)}, echo suppression ${a.echoSuppression ? 'on' : 'off'} (${a.note})`;
          },
          leave: () => joined.leave(),
        };
      },
      release() {
        if (!used) microphone.stop();
      },
    };
  },
});
