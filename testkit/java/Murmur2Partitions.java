// The Java client's own choice of partition for keyed records, computed by
// kafka-clients 4.4 itself (BuiltInPartitioner.partitionForKey is
// Utils.toPositive(Utils.murmur2(key)) % numPartitions), so kafkite's
// partitioner is checked against the reference rather than a re-derivation.
// Used by kafkite-testkit (testkit/src/interop.rs).
//
//   java Murmur2Partitions MAX_N < keys
//
// stdin: one key per line in hex (an empty line is the empty key).
// stdout: per key, one line of MAX_N space-separated partitions, for
// partition counts 1..=MAX_N.

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;

import org.apache.kafka.common.utils.Utils;

public final class Murmur2Partitions {
    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: Murmur2Partitions MAX_N < hex keys");
            System.exit(2);
        }
        int maxN = Integer.parseInt(args[0]);
        if (maxN < 1) {
            System.err.println("Murmur2Partitions: MAX_N must be at least 1, got " + maxN);
            System.exit(2);
        }
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
        BufferedWriter out = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.US_ASCII));
        StringBuilder line = new StringBuilder();
        String hex;
        long lineNo = 0;
        while ((hex = in.readLine()) != null) {
            lineNo++;
            byte[] key = unhex(hex.trim(), lineNo);
            int positive = Utils.toPositive(Utils.murmur2(key));
            line.setLength(0);
            for (int n = 1; n <= maxN; n++) {
                if (n > 1) {
                    line.append(' ');
                }
                line.append(positive % n);
            }
            out.write(line.toString());
            out.write('\n');
        }
        out.flush();
    }

    private static byte[] unhex(String hex, long lineNo) {
        if (hex.length() % 2 != 0) {
            System.err.println("Murmur2Partitions: line " + lineNo + ": odd-length hex " + hex);
            System.exit(2);
        }
        byte[] b = new byte[hex.length() / 2];
        for (int i = 0; i < b.length; i++) {
            int hi = Character.digit(hex.charAt(2 * i), 16);
            int lo = Character.digit(hex.charAt(2 * i + 1), 16);
            if (hi < 0 || lo < 0) {
                System.err.println("Murmur2Partitions: line " + lineNo + ": not hex: " + hex);
                System.exit(2);
            }
            b[i] = (byte) (hi << 4 | lo);
        }
        return b;
    }
}
