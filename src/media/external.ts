import type { MediaGateway, MediaJoin } from '../ports/media';

/**
 * `WEBDIAL_MEDIA=external`: webdial dials nothing; an external gateway places the PSTN leg and
 * reports its progress through the GATEWAY mutations (reportRinging, reportAnswered, …).
 */
export class ExternalMedia implements MediaGateway {
  readonly provider = 'external';
  async joinDetails(): Promise<MediaJoin> {
    return { provider: this.provider, url: null, token: null, room: null };
  }
  async dial(): Promise<void> {}
  async hangUp(): Promise<void> {}
  async sendDtmf(): Promise<void> {}
  async close(): Promise<void> {}
}
