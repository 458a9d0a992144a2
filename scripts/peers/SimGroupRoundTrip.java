// Produces COUNT records to TOPIC with kafka-clients 4.4 (idempotent,
// acks=all), then consumes them in consumer group GROUP (classic protocol)
// from the earliest offset, committing as it goes: kafkite-sim's loopback
// interop check. Run as a single source file:
//
//   java -cp '.cache/kafka-4.4.0/libs/*' scripts/peers/SimGroupRoundTrip.java \
//        BOOTSTRAP TOPIC GROUP COUNT TIMEOUT_MS
//
// Output lines as scripts/peers/sim_group_round_trip.py's:
//   P <partition> <offset> <value>, C <partition> <offset> <value>,
//   COMMITTED <partition> <offset>.

import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class SimGroupRoundTrip {
    public static void main(String[] args) throws Exception {
        if (args.length != 5) {
            System.err.println("usage: SimGroupRoundTrip BOOTSTRAP TOPIC GROUP COUNT TIMEOUT_MS");
            System.exit(2);
        }
        String bootstrap = args[0], topic = args[1], group = args[2];
        int count = Integer.parseInt(args[3]);
        long deadline = System.currentTimeMillis() + Long.parseLong(args[4]);

        Properties pp = new Properties();
        pp.put("bootstrap.servers", bootstrap);
        pp.put("enable.idempotence", "true");
        pp.put("acks", "all");
        pp.put("linger.ms", "5");
        pp.put("key.serializer", StringSerializer.class.getName());
        pp.put("value.serializer", StringSerializer.class.getName());
        List<String> lines = new ArrayList<>();
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(pp)) {
            List<java.util.concurrent.Future<RecordMetadata>> acks = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                acks.add(producer.send(new ProducerRecord<>(topic, "k" + i, "java-" + i)));
            }
            producer.flush();
            for (int i = 0; i < count; i++) {
                RecordMetadata m = acks.get(i).get();
                lines.add("P " + m.partition() + " " + m.offset() + " java-" + i);
            }
        }
        lines.forEach(System.out::println);

        Properties cp = new Properties();
        cp.put("bootstrap.servers", bootstrap);
        cp.put("group.id", group);
        cp.put("group.protocol", "classic");
        cp.put("auto.offset.reset", "earliest");
        cp.put("enable.auto.commit", "false");
        cp.put("key.deserializer", StringDeserializer.class.getName());
        cp.put("value.deserializer", StringDeserializer.class.getName());
        Set<String> seen = new HashSet<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(cp)) {
            consumer.subscribe(List.of(topic));
            while (seen.size() < count && System.currentTimeMillis() < deadline) {
                ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(200));
                for (ConsumerRecord<String, String> r : records) {
                    seen.add(r.value());
                    System.out.println("C " + r.partition() + " " + r.offset() + " " + r.value());
                }
                if (!records.isEmpty()) {
                    consumer.commitSync();
                }
            }
            if (seen.size() < count) {
                System.err.println("consumed " + seen.size() + " of " + count + " before the timeout");
                System.exit(1);
            }
            Map<TopicPartition, OffsetAndMetadata> committed =
                consumer.committed(consumer.assignment(), Duration.ofSeconds(10));
            for (Map.Entry<TopicPartition, OffsetAndMetadata> e : committed.entrySet()) {
                long offset = e.getValue() == null ? -1 : e.getValue().offset();
                System.out.println("COMMITTED " + e.getKey().partition() + " " + offset);
            }
        }
    }
}
