// A consumer group member of the reference client, kafka-clients 4.4's
// KafkaConsumer, that stays in its group until told to leave: kafkite's
// group interop tests put it in one group with kafkite members and watch
// how the partitions are shared. Driven by kafkite-testkit
// (testkit/src/group_interop.rs); scripts/peers/group_member_peer.py is the
// same tool on confluent-kafka and speaks the same protocol.
//
//   java GroupMemberPeer BOOTSTRAP GROUP TOPIC [TOPIC...]
//
// The member uses the classic group protocol with the range assignor only,
// a 10 s session (heartbeats every 500 ms) and a 20 s rebalance timeout
// (max.poll.interval.ms), starts at the group's committed offsets (earliest
// where none) and never commits by itself.
//
// stdout, one JSON object per line, flushed at once:
//   {"event":"assigned","partitions":[["TOPIC",0],...]}  (as the listener
//   {"event":"revoked","partitions":[...]}                 was told: with the
//   {"event":"lost","partitions":[...]}                    eager range
//                                                          assignor, the whole
//                                                          assignment)
//   {"event":"record","topic":"TOPIC","partition":0,"offset":5}
//   {"event":"committed","offsets":[["TOPIC",0,5],...]}   (a commit command
//                                                          succeeded)
//   {"event":"closed"}                                     (left the group)
// stdin, one command per line:
//   commit METADATA TOPIC PARTITION OFFSET [TOPIC PARTITION OFFSET...]
//       commitSync of exactly these offsets (the next offset to read), each
//       with METADATA (which therefore has no whitespace)
//   leave
//       close the consumer (LeaveGroup) and exit 0; so does the end of stdin
// Anything unexpected (a failed commit, a bad command, an exception from
// poll) is written to stderr and the tool exits non-zero.
//
// The client logs through log4j2, whose default configuration writes to
// System.out: stdout is taken for the protocol before any Kafka class
// loads, and System.out is pointed at stderr.

import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.RangeAssignor;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public final class GroupMemberPeer {
    /** The end of stdin means the same as a "leave" line. */
    private static final String LEAVE = "leave";

    private static PrintStream out;

    public static void main(String[] args) throws Exception {
        out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
        System.setOut(System.err);
        if (args.length < 3) {
            System.err.println("usage: GroupMemberPeer BOOTSTRAP GROUP TOPIC [TOPIC...]");
            System.exit(2);
        }
        String bootstrap = args[0];
        String group = args[1];
        List<String> topics = Arrays.asList(args).subList(2, args.length);

        BlockingQueue<String> commands = new LinkedBlockingQueue<>();
        Thread stdin = new Thread(() -> readCommands(commands), "stdin");
        stdin.setDaemon(true);
        stdin.start();

        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, "kafkite-interop-java");
        props.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
        props.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, RangeAssignor.class.getName());
        props.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "10000");
        props.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "500");
        props.put(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG, "20000");
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "100");

        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(
                props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(topics, new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                    emit(partitionsEvent("assigned", partitions));
                }

                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                    emit(partitionsEvent("revoked", partitions));
                }

                @Override
                public void onPartitionsLost(Collection<TopicPartition> partitions) {
                    emit(partitionsEvent("lost", partitions));
                }
            });
            boolean leaving = false;
            while (!leaving) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                    StringBuilder s = new StringBuilder("{\"event\":\"record\",\"topic\":");
                    string(s, r.topic());
                    s.append(",\"partition\":").append(r.partition())
                            .append(",\"offset\":").append(r.offset()).append('}');
                    emit(s.toString());
                }
                String command;
                while (!leaving && (command = commands.poll()) != null) {
                    if (command.equals(LEAVE)) {
                        leaving = true;
                    } else if (command.startsWith("commit ")) {
                        commit(consumer, command);
                    } else {
                        System.err.println("GroupMemberPeer: unknown command " + command);
                        System.exit(2);
                    }
                }
            }
            // Leaves the group; the listener hears the revocation first.
            consumer.close(Duration.ofSeconds(30));
        }
        emit("{\"event\":\"closed\"}");
    }

    /** `commit METADATA (TOPIC PARTITION OFFSET)+`, synchronously. */
    private static void commit(KafkaConsumer<byte[], byte[]> consumer, String command) {
        String[] words = command.trim().split("\\s+");
        if (words.length < 5 || (words.length - 2) % 3 != 0) {
            System.err.println("GroupMemberPeer: bad commit command " + command);
            System.exit(2);
        }
        String metadata = words[1];
        Map<TopicPartition, OffsetAndMetadata> offsets = new LinkedHashMap<>();
        for (int i = 2; i < words.length; i += 3) {
            TopicPartition tp = new TopicPartition(words[i], Integer.parseInt(words[i + 1]));
            offsets.put(tp, new OffsetAndMetadata(Long.parseLong(words[i + 2]), metadata));
        }
        consumer.commitSync(offsets, Duration.ofSeconds(30));
        StringBuilder s = new StringBuilder("{\"event\":\"committed\",\"offsets\":[");
        boolean first = true;
        for (Map.Entry<TopicPartition, OffsetAndMetadata> e : offsets.entrySet()) {
            if (!first) {
                s.append(',');
            }
            first = false;
            s.append('[');
            string(s, e.getKey().topic());
            s.append(',').append(e.getKey().partition())
                    .append(',').append(e.getValue().offset()).append(']');
        }
        emit(s.append("]}").toString());
    }

    private static void readCommands(BlockingQueue<String> commands) {
        try (BufferedReader in = new BufferedReader(
                new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                if (!line.isBlank()) {
                    commands.add(line.trim());
                }
            }
        } catch (java.io.IOException e) {
            System.err.println("GroupMemberPeer: reading stdin: " + e);
        }
        commands.add(LEAVE);
    }

    private static String partitionsEvent(String event, Collection<TopicPartition> partitions) {
        List<TopicPartition> sorted = new ArrayList<>(partitions);
        sorted.sort((a, b) -> a.topic().equals(b.topic())
                ? Integer.compare(a.partition(), b.partition())
                : a.topic().compareTo(b.topic()));
        StringBuilder s = new StringBuilder("{\"event\":\"").append(event).append("\",\"partitions\":[");
        boolean first = true;
        for (TopicPartition tp : sorted) {
            if (!first) {
                s.append(',');
            }
            first = false;
            s.append('[');
            string(s, tp.topic());
            s.append(',').append(tp.partition()).append(']');
        }
        return s.append("]}").toString();
    }

    /** Called from the poll loop and from the listener, which poll runs. */
    private static synchronized void emit(String line) {
        out.println(line);
        out.flush();
    }

    /** A JSON string literal. */
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
}
