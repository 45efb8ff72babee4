import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;

/**
 * Readiness probe for scripts/kafka/kafka.sh: succeeds once a real client can fetch cluster metadata
 * from the broker (a listening socket is not enough: the broker accepts connections before its
 * metadata is ready). Prints a dot per failed attempt. Usage: java -cp 'lib/*:<classes>' Probe host:port seconds
 * Exit 0 = ready, 1 = timed out.
 */
public class Probe {
  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    long deadline = System.currentTimeMillis() + Long.parseLong(args[1]) * 1000L;
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "2000");
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "2000");
    p.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "500");
    try (Admin admin = Admin.create(p)) {
      while (System.currentTimeMillis() < deadline) {
        try {
          int nodes = admin.describeCluster(new DescribeClusterOptions().timeoutMs(2000)).nodes().get(3, TimeUnit.SECONDS).size();
          if (nodes > 0) {
            System.out.println(" metadata ok (" + nodes + " node)");
            return;
          }
        } catch (Exception e) {
          // not ready yet: the broker is still starting
        }
        System.out.print(".");
        System.out.flush();
        Thread.sleep(500);
      }
    }
    System.out.println();
    System.exit(1);
  }
}
