package io.invsync.bench.kstreams;

import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;

/**
 * Runs the peer until SIGTERM/SIGINT. It prints to stdout, one line each:
 * "KSTREAMS-STATE &lt;state&gt;" on every state change of the KafkaStreams
 * instance (the bench waits for RUNNING), and "KSTREAMS-STATS ..." every 5
 * seconds. It exits 1 when the instance fails, 2 on bad arguments, 0 after
 * a clean shutdown.
 */
public final class Main {
    private Main() {}

    public static void main(String[] args) throws InterruptedException {
        PeerSettings s;
        try {
            s = PeerSettings.parse(args, System.getenv());
        } catch (IllegalArgumentException e) {
            System.err.println("invsync-kstreams-peer: " + e.getMessage());
            System.err.println(PeerSettings.USAGE);
            System.exit(2);
            return;
        }
        ApplyTransaction.Counters counters = new ApplyTransaction.Counters();
        KafkaStreams streams = new KafkaStreams(
            StockTopology.build(s.inputTopic, s.outputTopic, s.transactionSchemaId, s.eventSchemaId,
                System::currentTimeMillis, counters),
            properties(s));

        CountDownLatch stopped = new CountDownLatch(1);
        int[] exit = {0};
        streams.setStateListener((now, before) -> {
            System.out.println("KSTREAMS-STATE " + now);
            System.out.flush();
            if (now == KafkaStreams.State.ERROR) {
                exit[0] = 1;
            }
            if (now == KafkaStreams.State.NOT_RUNNING || now == KafkaStreams.State.ERROR) {
                stopped.countDown();
            }
        });
        streams.setUncaughtExceptionHandler(e -> {
            System.err.println("invsync-kstreams-peer: stream thread failed: " + e);
            e.printStackTrace();
            exit[0] = 1;
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            close(streams);
            stopped.countDown();
        }, "shutdown"));

        ScheduledExecutorService stats = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "stats");
            t.setDaemon(true);
            return t;
        });
        stats.scheduleAtFixedRate(() -> {
            System.out.println("KSTREAMS-STATS applied=" + counters.applied.sum() + " duplicates=" + counters.duplicates.sum()
                + " skipped=" + counters.skipped.sum() + " events=" + counters.events.sum());
            System.out.flush();
        }, 5, 5, TimeUnit.SECONDS);

        System.out.println("KSTREAMS-CONFIG application.id=" + s.applicationId + " input=" + s.inputTopic + " output=" + s.outputTopic
            + " commit.interval.ms=" + s.commitIntervalMs + " num.stream.threads=" + s.threads
            + " state.dir=" + s.stateDir + " rocksdb.memory.mb=" + s.rocksdbMemoryMb + " overrides=" + s.overrides);
        System.out.flush();
        streams.start();
        stopped.await();
        close(streams);
        System.exit(exit[0]);
    }

    /**
     * Closes the instance and leaves the consumer group. A Streams member
     * does not leave on close by default (so that a quick restart keeps its
     * tasks); leaveGroup removes the instance's static members (see
     * group.instance.id in {@link #properties}), so the bench can delete the
     * group right after the run.
     */
    static void close(KafkaStreams streams) {
        streams.close(new KafkaStreams.CloseOptions().timeout(Duration.ofSeconds(20)).leaveGroup(true));
    }

    /**
     * The Kafka Streams configuration. Every choice that differs from a
     * default, and why, for a 2-core machine that also runs the broker and
     * the load generator:
     *
     * <ul>
     * <li>processing.guarantee=exactly_once_v2: the job's contract; one
     *     transactional producer per stream thread. Not overridable.</li>
     * <li>commit.interval.ms (default here 100, the EOS default): each
     *     commit ends a Kafka transaction; events become readable to
     *     read_committed consumers only then.</li>
     * <li>num.stream.threads (default 1): on 2 cores shared with the broker
     *     and the load generator, one thread owning all 12 tasks spends less
     *     on transaction commits (one producer, one transaction per interval)
     *     than two; the bench can set 2.</li>
     * <li>statestore.cache.max.bytes=0: no record cache (see
     *     StockTopology).</li>
     * <li>producer linger.ms=5 (Streams' own default is 100): under EOS a
     *     commit flushes the producer anyway, and sending during the
     *     interval instead of at its end shortens each commit and so the
     *     latency; 5 ms still batches at high rates.</li>
     * <li>producer batch.size=256 KiB: room for a whole interval's records
     *     per partition at high rates.</li>
     * <li>producer compression.type=snappy: what invsync's franz-go
     *     producers use by default, so both write the same bytes to the
     *     broker.</li>
     * <li>producer retry.backoff.ms=20 (default 100, growing to 1000): with
     *     the 4.x transaction protocol a produce that arrives while the
     *     previous transaction's markers are still being written is answered
     *     CONCURRENT_TRANSACTIONS and retried; on a busy broker whole commits
     *     wait on that retry, so a short first backoff shortens the stall.</li>
     * <li>consumer fetch.max.wait.ms=10: when the input runs dry the poll
     *     returns after 10 ms instead of 500, so the thread reaches its next
     *     commit sooner at low rates (fetch.min.bytes stays 1).</li>
     * <li>poll.ms=10: likewise for the stream thread's own poll timeout
     *     (default 100).</li>
     * <li>group.instance.id=&lt;application.id&gt;-peer (static membership; Streams
     *     appends the thread index): a restarted instance takes its tasks
     *     back at once instead of waiting out the old member's session, and
     *     a closing one really leaves (see {@link #close}).</li>
     * <li>rocksdb.config.setter=BoundedRocksDb: one memory bound for all
     *     stores (default 64 MB).</li>
     * <li>acks=all and idempotence are what EOS sets; the internal topics
     *     get the broker's default replication (1 on the bench's single
     *     broker).</li>
     * </ul>
     */
    static Properties properties(PeerSettings s) {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, s.applicationId);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, s.bootstrapServers);
        p.put(StreamsConfig.STATE_DIR_CONFIG, s.stateDir);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, Long.toString(s.commitIntervalMs));
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, Integer.toString(s.threads));
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, "0");
        p.put(StreamsConfig.POLL_MS_CONFIG, "10");
        p.put(StreamsConfig.producerPrefix(ProducerConfig.LINGER_MS_CONFIG), "5");
        p.put(StreamsConfig.producerPrefix(ProducerConfig.BATCH_SIZE_CONFIG), Integer.toString(256 << 10));
        p.put(StreamsConfig.producerPrefix(ProducerConfig.COMPRESSION_TYPE_CONFIG), "snappy");
        p.put(StreamsConfig.producerPrefix(ProducerConfig.RETRY_BACKOFF_MS_CONFIG), "20");
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG), "10");
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG), s.applicationId + "-peer");
        p.put(StreamsConfig.ROCKSDB_CONFIG_SETTER_CLASS_CONFIG, BoundedRocksDb.class.getName());
        p.put(BoundedRocksDb.MEMORY_CONFIG, Long.toString(s.rocksdbMemoryMb << 20));
        p.putAll(s.overrides);
        // The guarantee under test is not a knob.
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        return p;
    }
}
