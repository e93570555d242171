package io.invsync.bench.kstreams;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The peer's configuration, from command-line flags ({@code --name value})
 * with environment variables ({@code KSTREAMS_NAME}, upper case, dashes as
 * underscores) as fallback and the defaults below last. {@link #parse}
 * reports every problem at once.
 */
final class PeerSettings {
    /** Kafka seed brokers (default 127.0.0.1:39092, scripts/kafka.sh's broker). */
    String bootstrapServers = "127.0.0.1:39092";
    /** Topic of Avro Transaction records keyed by stock key (required). */
    String inputTopic;
    /** Topic the InventoryEvent records go to, keyed by stock key (required). */
    String outputTopic;
    /** Kafka Streams application.id: consumer group, transactional ids, internal topic prefix. */
    String applicationId = "invsync-kstreams-peer";
    /** Where RocksDB keeps the stores (default: a directory under java.io.tmpdir). */
    String stateDir = System.getProperty("java.io.tmpdir") + "/invsync-kstreams-peer";
    /**
     * commit.interval.ms: how often a stream thread commits its transaction.
     * Under exactly_once_v2 an event is readable (read_committed) only after
     * the commit that produced it, so this bounds the latency from below;
     * Kafka Streams' EOS default is 100 ms.
     */
    long commitIntervalMs = 100;
    /** num.stream.threads: each has its own consumer, transactional producer and tasks. */
    int threads = 1;
    /** Schema id written after the magic byte of every output record. */
    int eventSchemaId = 2;
    /** Schema id the input records must carry; 0 accepts any. */
    int transactionSchemaId = 1;
    /** Total off-heap memory for RocksDB: block cache, memtables and index/filter blocks of every store. */
    long rocksdbMemoryMb = 64;
    /** Further Kafka Streams, consumer or producer settings, applied last ({@code --config key=value}, repeatable). */
    final Map<String, String> overrides = new LinkedHashMap<>();

    static final String USAGE = String.join("\n",
        "usage: java -jar invsync-kstreams-peer.jar --input-topic T --output-topic T [flags]",
        "  --bootstrap-servers HOSTS   Kafka seed brokers (KSTREAMS_BOOTSTRAP_SERVERS, default 127.0.0.1:39092)",
        "  --input-topic T             Avro Transaction records, key = warehouseId/itemId (KSTREAMS_INPUT_TOPIC)",
        "  --output-topic T            Avro InventoryEvent records, key = warehouseId/itemId (KSTREAMS_OUTPUT_TOPIC)",
        "  --application-id ID         application.id (KSTREAMS_APPLICATION_ID, default invsync-kstreams-peer)",
        "  --state-dir DIR             state.dir for RocksDB (KSTREAMS_STATE_DIR)",
        "  --commit-interval-ms N      commit.interval.ms (KSTREAMS_COMMIT_INTERVAL_MS, default 100, the EOS default)",
        "  --threads N                 num.stream.threads (KSTREAMS_THREADS, default 1)",
        "  --event-schema-id N         schema id of the output records (KSTREAMS_EVENT_SCHEMA_ID, default 2)",
        "  --transaction-schema-id N   schema id expected on input, 0 = any (KSTREAMS_TRANSACTION_SCHEMA_ID, default 1)",
        "  --rocksdb-memory-mb N       RocksDB memory bound for all stores (KSTREAMS_ROCKSDB_MEMORY_MB, default 64)",
        "  --config KEY=VALUE          any other Streams/client setting, applied last (repeatable)");

    /** Parses args over env; throws IllegalArgumentException listing every problem. */
    static PeerSettings parse(String[] args, Map<String, String> env) {
        PeerSettings s = new PeerSettings();
        List<String> problems = new ArrayList<>();
        Map<String, String> flags = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--")) {
                problems.add("unexpected argument " + a);
                continue;
            }
            String name = a.substring(2);
            String value;
            int eq = name.indexOf('=');
            if (eq >= 0 && !name.startsWith("config")) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            } else if (eq >= 0) { // --config=KEY=VALUE
                value = name.substring(eq + 1);
                name = "config";
            } else if (i + 1 < args.length) {
                value = args[++i];
            } else {
                problems.add(a + ": missing value");
                continue;
            }
            if (name.equals("config")) {
                int kv = value.indexOf('=');
                if (kv <= 0) {
                    problems.add("--config " + value + ": want KEY=VALUE");
                } else {
                    s.overrides.put(value.substring(0, kv), value.substring(kv + 1));
                }
                continue;
            }
            flags.put(name, value);
        }
        for (String name : List.of("bootstrap-servers", "input-topic", "output-topic", "application-id", "state-dir",
                "commit-interval-ms", "threads", "event-schema-id", "transaction-schema-id", "rocksdb-memory-mb")) {
            String v = flags.remove(name);
            if (v == null) {
                v = env.get("KSTREAMS_" + name.toUpperCase().replace('-', '_'));
            }
            if (v == null) {
                continue;
            }
            try {
                switch (name) {
                    case "bootstrap-servers" -> s.bootstrapServers = v;
                    case "input-topic" -> s.inputTopic = v;
                    case "output-topic" -> s.outputTopic = v;
                    case "application-id" -> s.applicationId = v;
                    case "state-dir" -> s.stateDir = v;
                    case "commit-interval-ms" -> s.commitIntervalMs = Long.parseLong(v);
                    case "threads" -> s.threads = Integer.parseInt(v);
                    case "event-schema-id" -> s.eventSchemaId = Integer.parseInt(v);
                    case "transaction-schema-id" -> s.transactionSchemaId = Integer.parseInt(v);
                    case "rocksdb-memory-mb" -> s.rocksdbMemoryMb = Long.parseLong(v);
                    default -> throw new IllegalStateException(name);
                }
            } catch (NumberFormatException e) {
                problems.add("--" + name + " " + v + ": not a number");
            }
        }
        for (String unknown : flags.keySet()) {
            problems.add("--" + unknown + ": unknown flag");
        }
        if (s.inputTopic == null || s.inputTopic.isEmpty()) {
            problems.add("--input-topic is required");
        }
        if (s.outputTopic == null || s.outputTopic.isEmpty()) {
            problems.add("--output-topic is required");
        }
        if (s.inputTopic != null && s.inputTopic.equals(s.outputTopic)) {
            problems.add("--input-topic and --output-topic must differ");
        }
        if (s.commitIntervalMs < 1) {
            problems.add("--commit-interval-ms " + s.commitIntervalMs + ": must be at least 1");
        }
        if (s.threads < 1) {
            problems.add("--threads " + s.threads + ": must be at least 1");
        }
        if (s.eventSchemaId < 0 || s.transactionSchemaId < 0) {
            problems.add("schema ids must not be negative");
        }
        if (s.rocksdbMemoryMb < 8) {
            problems.add("--rocksdb-memory-mb " + s.rocksdbMemoryMb + ": must be at least 8");
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(String.join("; ", problems));
        }
        return s;
    }
}
