// Produces in transactions with the reference client, kafka-clients 4.4's
// KafkaProducer, so kafkite's tests can check that kafkite's read_committed
// consumer hides what the Java client aborted, and time a transaction's
// overhead beside kafkite's. Used by kafkite-testkit (testkit/src/interop.rs).
//
//   java TxnProduce BOOTSTRAP TOPIC TRANSACTIONAL_ID PER_TXN TXNS ABORT_EVERY PREFIX
//
// Runs TXNS transactions of PER_TXN records each (values PREFIX-<txn>-<i>,
// partitions round robin); every ABORT_EVERY-th transaction (1-based; 0:
// none) is aborted after its records are acknowledged, the others
// committed. Prints one JSON object on stdout:
//   {"committed":[...values...],"aborted":[...values...],"elapsed_ms":N}
// where elapsed_ms covers the transactions only (after initTransactions).

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Future;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class TxnProduce {
    public static void main(String[] args) throws Exception {
        if (args.length != 7) {
            System.err.println(
                "usage: TxnProduce BOOTSTRAP TOPIC TRANSACTIONAL_ID PER_TXN TXNS ABORT_EVERY PREFIX");
            System.exit(2);
        }
        String bootstrap = args[0];
        String topic = args[1];
        String transactionalId = args[2];
        int perTxn = Integer.parseInt(args[3]);
        int txns = Integer.parseInt(args[4]);
        int abortEvery = Integer.parseInt(args[5]);
        String prefix = args[6];

        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ProducerConfig.CLIENT_ID_CONFIG, "kafkite-testkit-txn");
        props.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        props.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());

        List<String> committed = new ArrayList<>();
        List<String> aborted = new ArrayList<>();
        int partitions;
        long elapsedMs;
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
            producer.initTransactions();
            partitions = producer.partitionsFor(topic).size();
            long start = System.nanoTime();
            for (int t = 1; t <= txns; t++) {
                producer.beginTransaction();
                List<String> values = new ArrayList<>();
                List<Future<RecordMetadata>> acks = new ArrayList<>();
                for (int i = 0; i < perTxn; i++) {
                    String value = prefix + "-" + t + "-" + i;
                    values.add(value);
                    acks.add(producer.send(new ProducerRecord<>(
                        topic, i % partitions, null, value.getBytes(StandardCharsets.UTF_8))));
                }
                boolean abort = abortEvery > 0 && t % abortEvery == 0;
                if (abort) {
                    // Written first, so that the abort has records to hide.
                    for (Future<RecordMetadata> ack : acks) {
                        ack.get();
                    }
                    producer.abortTransaction();
                    aborted.addAll(values);
                } else {
                    producer.commitTransaction();
                    committed.addAll(values);
                }
            }
            elapsedMs = (System.nanoTime() - start) / 1_000_000;
        }
        StringBuilder out = new StringBuilder("{\"committed\":");
        appendStrings(out, committed);
        out.append(",\"aborted\":");
        appendStrings(out, aborted);
        out.append(",\"elapsed_ms\":").append(elapsedMs).append("}");
        System.out.println(out);
    }

    private static void appendStrings(StringBuilder out, List<String> values) {
        out.append('[');
        for (int i = 0; i < values.size(); i++) {
            if (i > 0) {
                out.append(',');
            }
            // The values are ASCII with no quotes or backslashes.
            out.append('"').append(values.get(i)).append('"');
        }
        out.append(']');
    }
}
