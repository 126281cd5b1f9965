// What the kafkajs admin cannot tell about a KRaft cluster, asked through Kafka's own Admin client (run by
// scripts/stack/kafka-cluster.mjs with the JDK's single-file source launcher and the broker jars on the class path):
//   quorum-leader <bootstrap>                 {"leader":<node id of the active controller>}
//   group-coordinators <bootstrap> <g1,g2..>  {"<group>":<node id of its coordinator>, ...}
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.StringJoiner;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;

public class ClusterProbe {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[1]);
    props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
    props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "15000");
    try (Admin admin = Admin.create(props)) {
      switch (args[0]) {
        case "quorum-leader" -> {
          int leader = admin.describeMetadataQuorum().quorumInfo().get().leaderId();
          System.out.println("{\"leader\":" + leader + "}");
        }
        case "group-coordinators" -> {
          List<String> groups = Arrays.asList(args[2].split(","));
          StringJoiner out = new StringJoiner(",", "{", "}");
          for (var e : admin.describeConsumerGroups(groups).all().get().entrySet()) {
            ConsumerGroupDescription d = e.getValue();
            out.add("\"" + e.getKey() + "\":" + d.coordinator().id());
          }
          System.out.println(out);
        }
        default -> throw new IllegalArgumentException("unknown command " + args[0]);
      }
    }
  }
}
