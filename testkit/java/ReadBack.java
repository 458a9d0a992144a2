// Reads a topic back with the reference client, kafka-clients 4.4's
// KafkaConsumer, so kafkite's tests can check what kafkite produced against
// what Java really sees. Used by kafkite-testkit (testkit/src/interop.rs),
// which compiles this file with javac at first use.
//
//   java ReadBack BOOTSTRAP TOPIC COUNT TIMEOUT_MS [KEY=VALUE]...
//
// Each KEY=VALUE is one more consumer property (split at the first '='),
// set after the defaults below so it may override them: how a test reaches
// a secured listener (security.protocol, sasl.mechanism, sasl.jaas.config,
// ssl.truststore.type=PEM, ssl.truststore.location, ...).
//
// No consumer group: every partition of the topic (from partitionsFor) is
// assigned and read from the beginning, so nothing is committed and a test
// may read the same topic any number of times. Stops as soon as COUNT records
// have arrived (it may print a few more if one poll returned more) and exits
// 0; TIMEOUT_MS after the partitions were assigned without COUNT, it prints
// what it got, says so on stderr and exits 1. Finding the topic may take up
// to max(TIMEOUT_MS, 30 s) before that: on a loaded 2-core machine the first
// metadata answer alone can take seconds, and that should not eat the time
// given for records. Output, one JSON object per record on stdout:
//   {"partition":0,"offset":0,"timestamp":1700000000000,
//    "key":"BASE64"|null,"value":"BASE64"|null,"headers":[["k","BASE64"|null],...]}

import java.io.BufferedWriter;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Properties;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public final class ReadBack {
    private static final long TOPIC_LOOKUP_MIN_MS = 30_000;

    public static void main(String[] args) throws Exception {
        if (args.length < 4) {
            System.err.println("usage: ReadBack BOOTSTRAP TOPIC COUNT TIMEOUT_MS [KEY=VALUE]...");
            System.exit(2);
        }
        String bootstrap = args[0];
        String topic = args[1];
        long expected = Long.parseLong(args[2]);
        long timeoutMs = Long.parseLong(args[3]);

        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, "kafkite-testkit-readback");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        // Reading must not create the topic it is asked about.
        props.put(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, "false");
        for (int i = 4; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            if (eq <= 0) {
                System.err.println("ReadBack: property " + (i - 3) + " is not KEY=VALUE");
                System.exit(2);
            }
            props.put(args[i].substring(0, eq), args[i].substring(eq + 1));
        }

        BufferedWriter out = new BufferedWriter(
                new OutputStreamWriter(System.out, StandardCharsets.UTF_8));
        long got = 0;
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(
                props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            long lookupDeadline =
                    System.currentTimeMillis() + Math.max(timeoutMs, TOPIC_LOOKUP_MIN_MS);
            List<TopicPartition> partitions =
                    partitions(consumer, topic, bootstrap, lookupDeadline);
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            long deadline = System.currentTimeMillis() + timeoutMs;
            while (got < expected && System.currentTimeMillis() < deadline) {
                long left = Math.max(1, Math.min(500, deadline - System.currentTimeMillis()));
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(left))) {
                    out.write(json(r));
                    out.write('\n');
                    got++;
                }
            }
        }
        out.flush();
        if (got < expected) {
            System.err.println("ReadBack: got " + got + " of " + expected + " records from "
                    + topic + " at " + bootstrap + " before the timeout");
            System.exit(1);
        }
    }

    /** The topic's partitions; a topic that a producer just created may take a moment to show. */
    private static List<TopicPartition> partitions(
            KafkaConsumer<byte[], byte[]> consumer, String topic, String bootstrap, long deadline) {
        while (true) {
            long left = Math.max(1, deadline - System.currentTimeMillis());
            List<PartitionInfo> infos = null;
            try {
                infos = consumer.partitionsFor(topic, Duration.ofMillis(Math.min(left, 2000)));
            } catch (org.apache.kafka.common.errors.TimeoutException e) {
                // fall through to the deadline check
            }
            if (infos != null && !infos.isEmpty()) {
                List<TopicPartition> tps = new ArrayList<>();
                for (PartitionInfo p : infos) {
                    tps.add(new TopicPartition(topic, p.partition()));
                }
                return tps;
            }
            if (System.currentTimeMillis() >= deadline) {
                System.err.println("ReadBack: topic " + topic + " not found at " + bootstrap
                        + " before the timeout");
                System.exit(1);
            }
            sleep(100);
        }
    }

    private static String json(ConsumerRecord<byte[], byte[]> r) {
        StringBuilder s = new StringBuilder(128);
        s.append("{\"partition\":").append(r.partition())
                .append(",\"offset\":").append(r.offset())
                .append(",\"timestamp\":").append(r.timestamp())
                .append(",\"key\":");
        base64(s, r.key());
        s.append(",\"value\":");
        base64(s, r.value());
        s.append(",\"headers\":[");
        boolean first = true;
        for (Header h : r.headers()) {
            if (!first) {
                s.append(',');
            }
            first = false;
            s.append('[');
            string(s, h.key());
            s.append(',');
            base64(s, h.value());
            s.append(']');
        }
        return s.append("]}").toString();
    }

    private static void base64(StringBuilder s, byte[] bytes) {
        if (bytes == null) {
            s.append("null");
        } else {
            s.append('"').append(Base64.getEncoder().encodeToString(bytes)).append('"');
        }
    }

    /** A JSON string literal (header keys are arbitrary UTF-16 strings). */
    private static void string(StringBuilder s, String v) {
        s.append('"');
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            if (c == '"' || c == '\\') {
                s.append('\\').append(c);
            } else if (c < 0x20) {
                s.append(String.format("\\u%04x", (int) c));
            } else {
                s.append(c);
            }
        }
        s.append('"');
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
