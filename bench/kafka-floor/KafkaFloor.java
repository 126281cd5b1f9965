// The floor of the Kafka leg every chat message crosses before it is delivered, measured with Apache Kafka's own
// Java client, not ours: an idempotent producer (acks=all) writes at a fixed rate (open loop) into a topic shaped
// like chat.messages, and a read_committed consumer that fetches as soon as one record exists receives it. Nothing
// else happens to a record: no app, no Redis, no socket to a client. Run by bench/kafka-floor.ts with the JDK's
// single-file source launcher and the broker's jars on the class path:
//
//   java -cp '.stack/kafka/jars/<version>/*' bench/kafka-floor/KafkaFloor.java <bootstrap> <rate> <warmupS> <durationS> <partitions> <lingerMs> <bodyBytes>
//
// Prints "measure-start" and "measure-end" around the measured records' sending (so the caller can read the
// broker's CPU over the same window), then one JSON line with the latencies, in ms, of the measured records.
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class KafkaFloor {
  /** Rooms the records are keyed by, as the fan-out bench's (the partition key is the room). */
  private static final int ROOMS = 20;
  private static final long UNSET = Long.MIN_VALUE;

  public static void main(String[] a) throws Exception {
    String bootstrap = a[0];
    int rate = Integer.parseInt(a[1]);
    int warmup = (int) Math.round(Double.parseDouble(a[2]) * rate);
    int measured = (int) Math.round(Double.parseDouble(a[3]) * rate);
    int partitions = Integer.parseInt(a[4]);
    int lingerMs = Integer.parseInt(a[5]);
    int bodyBytes = Math.max(16, Integer.parseInt(a[6]));
    String topic = "kafka-floor-" + ProcessHandle.current().pid() + "-" + System.currentTimeMillis();
    Properties ap = new Properties();
    ap.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    try (Admin admin = Admin.create(ap)) {
      admin.createTopics(List.of(new NewTopic(topic, Optional.of(partitions), Optional.empty()))).all().get();
      try {
        System.out.println(run(bootstrap, topic, rate, warmup, measured, lingerMs, bodyBytes));
      } finally {
        // Left-overs only cost disk: a failed clean-up is reported, not a failed measurement.
        try {
          admin.deleteTopics(List.of(topic)).all().get();
          admin.deleteConsumerGroups(List.of(topic)).all().get();
        } catch (Exception e) {
          System.err.println("kafka-floor: could not delete " + topic + ": " + e);
        }
      }
    }
  }

  private static String run(String bootstrap, String topic, int rate, int warmup, int measured, int lingerMs, int bodyBytes) throws Exception {
    int total = warmup + measured;
    // Per measured record: ns from its intended send time to its acknowledgement, and to its arrival at the consumer.
    long[] acked = new long[measured];
    long[] received = new long[measured];
    Arrays.fill(acked, UNSET);
    Arrays.fill(received, UNSET);
    AtomicInteger duplicates = new AtomicInteger();
    AtomicInteger arrived = new AtomicInteger();
    AtomicBoolean stop = new AtomicBoolean();
    CountDownLatch assigned = new CountDownLatch(1);
    Thread consumer = new Thread(() -> consume(bootstrap, topic, warmup, received, duplicates, arrived, stop, assigned), "floor-consumer");
    consumer.start();
    assigned.await();

    Properties pp = new Properties();
    pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    pp.put(ProducerConfig.ACKS_CONFIG, "all");
    pp.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    pp.put(ProducerConfig.LINGER_MS_CONFIG, String.valueOf(lingerMs));
    pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    long cpuStart = 0;
    long measuredFrom = 0;
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(pp)) {
      long start = System.nanoTime() + 50_000_000L;
      for (int i = 0; i < total; i++) {
        long intended = start + (long) i * 1_000_000_000L / rate;
        for (long wait; (wait = intended - System.nanoTime()) > 0; ) LockSupport.parkNanos(wait);
        if (i == warmup) {
          System.out.println("measure-start");
          cpuStart = os.getProcessCpuTime();
          measuredFrom = System.nanoTime();
        }
        ByteBuffer value = ByteBuffer.allocate(bodyBytes).putLong(i).putLong(intended);
        byte[] key = String.valueOf(i % ROOMS).getBytes(StandardCharsets.UTF_8);
        int index = i - warmup;
        producer.send(new ProducerRecord<>(topic, key, value.array()), (meta, err) -> {
          if (err == null && index >= 0) acked[index] = System.nanoTime() - intended;
        });
      }
      producer.flush();
    }
    long sendNs = System.nanoTime() - measuredFrom;
    long cpuNs = os.getProcessCpuTime() - cpuStart;
    System.out.println("measure-end");
    long deadline = System.nanoTime() + 15_000_000_000L;
    while (arrived.get() < total && System.nanoTime() < deadline) Thread.sleep(20);
    stop.set(true);
    consumer.join();

    long[] got = Arrays.stream(received).filter(v -> v != UNSET).sorted().toArray();
    long[] ack = Arrays.stream(acked).filter(v -> v != UNSET).sorted().toArray();
    return String.format(
        "{\"rate\":%d,\"lingerMs\":%d,\"records\":%d,\"received\":%d,\"lost\":%d,\"duplicates\":%d,"
            + "\"p50Ms\":%s,\"p90Ms\":%s,\"p99Ms\":%s,\"p999Ms\":%s,\"maxMs\":%s,\"ackP50Ms\":%s,\"ackP99Ms\":%s,"
            + "\"clientCpuUsPerRecord\":%.1f,\"sendSeconds\":%.3f}",
        rate, lingerMs, measured, got.length, measured - got.length, duplicates.get(),
        ms(got, 50), ms(got, 90), ms(got, 99), ms(got, 99.9), ms(got, 100), ms(ack, 50), ms(ack, 99),
        cpuNs / 1000.0 / measured, sendNs / 1e9);
  }

  private static void consume(String bootstrap, String topic, int warmup, long[] received, AtomicInteger duplicates, AtomicInteger arrived, AtomicBoolean stop, CountDownLatch assigned) {
    Properties cp = new Properties();
    cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    cp.put(ConsumerConfig.GROUP_ID_CONFIG, topic);
    cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    cp.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    // As the broadcast group's fetches: answered as soon as one record exists, the wait bounds only empty polls.
    cp.put(ConsumerConfig.FETCH_MIN_BYTES_CONFIG, "1");
    cp.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "500");
    cp.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    cp.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(cp)) {
      consumer.subscribe(List.of(topic));
      while (consumer.assignment().isEmpty()) consumer.poll(Duration.ofMillis(100));
      assigned.countDown();
      long commitAt = System.nanoTime();
      while (!stop.get()) {
        var records = consumer.poll(Duration.ofMillis(100));
        long now = System.nanoTime();
        for (ConsumerRecord<byte[], byte[]> r : records) {
          ByteBuffer v = ByteBuffer.wrap(r.value());
          int index = (int) v.getLong(0) - warmup;
          arrived.incrementAndGet();
          if (index < 0) continue;
          if (received[index] != UNSET) duplicates.incrementAndGet();
          else received[index] = now - v.getLong(8);
        }
        // Offsets committed every 200 ms, as our groups do (one request for every partition).
        if (now - commitAt > 200_000_000L) {
          consumer.commitAsync();
          commitAt = now;
        }
      }
    } finally {
      assigned.countDown();
    }
  }

  /** The `at` percentile of sorted ns values, in ms with three decimals; null when there are none. */
  private static String ms(long[] sorted, double at) {
    if (sorted.length == 0) return "null";
    int i = Math.min(sorted.length - 1, (int) Math.ceil(at / 100.0 * sorted.length) - 1);
    return String.format("%.3f", sorted[Math.max(0, i)] / 1e6);
  }
}
