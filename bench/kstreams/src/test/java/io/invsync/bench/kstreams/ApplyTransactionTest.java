package io.invsync.bench.kstreams;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import io.invsync.v1.EventType;
import io.invsync.v1.InventoryEvent;
import io.invsync.v1.Transaction;
import io.invsync.v1.TransactionType;

/** The topology on Kafka Streams' test driver, with the real RocksDB stores. */
class ApplyTransactionTest {
    static final String IN = "in";
    static final String OUT = "out";

    final AtomicLong clock = new AtomicLong(Instant.parse("2026-11-26T12:00:00Z").toEpochMilli());
    final ApplyTransaction.Counters counters = new ApplyTransaction.Counters();
    TopologyTestDriver driver;
    TestInputTopic<String, Transaction> input;
    TestOutputTopic<String, InventoryEvent> output;
    Path stateDir;

    @BeforeEach
    void start() throws Exception {
        Files.createDirectories(Path.of(System.getProperty("java.io.tmpdir")));
        stateDir = Files.createTempDirectory("apply-test");
        PeerSettings s = PeerSettings.parse(new String[] {"--input-topic", IN, "--output-topic", OUT,
            "--state-dir", stateDir.toString(), "--application-id", "apply-test"}, java.util.Map.of());
        Properties props = Main.properties(s);
        driver = new TopologyTestDriver(StockTopology.build(IN, OUT, 1, 2, clock::get, counters), props);
        input = driver.createInputTopic(IN, new StringSerializer(), WireFormat.transactions(1).serializer());
        output = driver.createOutputTopic(OUT, new StringDeserializer(), WireFormat.events(2).deserializer());
    }

    @AfterEach
    void stop() {
        driver.close();
    }

    static Transaction tx(String id, TransactionType type, String item, String location, String lot, long q, String to) {
        Instant t = Instant.parse("2026-11-26T11:00:00Z");
        return new Transaction(id, type, "WH-001", item, location, lot, q, to, null, null, false, "user", null,
            "SCANNER-01", t, t, t, t, ByteBuffer.wrap(new byte[32]), null, null);
    }

    void send(Transaction... txs) {
        for (Transaction t : txs) {
            input.pipeInput(t.getWarehouseId() + "/" + t.getItemId(), t);
        }
    }

    @Test
    void appliesEachTransactionOnce() {
        Transaction receipt = tx("t1", TransactionType.RECEIPT, "ITEM-1", "A", "LOT-1", 100, null);
        send(receipt,
            tx("t2", TransactionType.PICK, "ITEM-1", "A", "LOT-1", 30, null),
            tx("t3", TransactionType.ADJUSTMENT, "ITEM-1", "A", "LOT-1", -5, null),
            tx("t4", TransactionType.MOVE, "ITEM-1", "A", "LOT-1", 10, "B"),
            receipt,
            tx("t5", TransactionType.CYCLE_COUNT, "ITEM-1", "A", "LOT-1", 500, null),
            tx("t6", TransactionType.PICK, "ITEM-1", "A", "LOT-1", 80, null),
            tx("t7", TransactionType.RECEIPT, "ITEM-2", "C", "", 7, null),
            tx("t8", TransactionType.MOVE, "ITEM-1", "A", "LOT-1", 1, null));

        List<KeyValue<String, InventoryEvent>> got = output.readKeyValuesToList();
        List<String> summary = new ArrayList<>();
        for (KeyValue<String, InventoryEvent> kv : got) {
            InventoryEvent e = kv.value;
            assertEquals(e.getWarehouseId() + "/" + e.getItemId(), kv.key, "key of " + e.getEventId());
            assertEquals(e.getResultingOnHand(), e.getAvailable());
            assertEquals(Instant.ofEpochMilli(clock.get()), e.getTimestamp());
            summary.add(e.getEventId() + " " + e.getEventType() + " " + e.getLocationId() + " " + e.getLotNumber() + " "
                + e.getQuantityChange() + " " + e.getResultingOnHand() + " v" + e.getVersion() + " " + e.getWarnings());
        }
        assertEquals(List.of(
            "evt-t1-1 InventoryReceipt A LOT-1 100 100 v1 []",
            "evt-t2-1 InventoryPick A LOT-1 -30 70 v2 []",
            "evt-t3-1 InventoryAdjustment A LOT-1 -5 65 v3 []",
            "evt-t4-1 InventoryMove A LOT-1 -10 55 v4 []",
            "evt-t4-2 InventoryMove B LOT-1 10 10 v1 []",
            "evt-t6-1 InventoryPick A LOT-1 -80 -25 v5 [NEGATIVE_ON_HAND]",
            "evt-t7-1 InventoryReceipt C null 7 7 v1 []"), summary);
        assertEquals(6, counters.applied.sum());
        assertEquals(1, counters.duplicates.sum());
        assertEquals(2, counters.skipped.sum()); // the count and the MOVE without a destination

        KeyValueStore<String, StockState> stock = driver.getKeyValueStore(ApplyTransaction.STOCK_STORE);
        assertEquals(new StockState(-25, 5), stock.get(StockState.key("WH-001", "ITEM-1", "A", "LOT-1")));
        assertEquals(new StockState(10, 1), stock.get(StockState.key("WH-001", "ITEM-1", "B", "LOT-1")));
        KeyValueStore<String, byte[]> applied = driver.getKeyValueStore(ApplyTransaction.APPLIED_STORE);
        for (String id : List.of("t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8")) {
            assertTrue(applied.get(id) != null, id + " not recorded as seen");
        }
        // A skipped transaction stays skipped when resent; an applied one stays applied.
        send(tx("t5", TransactionType.CYCLE_COUNT, "ITEM-1", "A", "LOT-1", 500, null), receipt);
        assertTrue(output.isEmpty());
    }

    @Test
    void settingsKeepExactlyOnce() {
        PeerSettings s = PeerSettings.parse(new String[] {"--input-topic", "i", "--output-topic", "o",
            "--config", "processing.guarantee=at_least_once", "--commit-interval-ms", "20", "--threads", "2"}, java.util.Map.of());
        Properties p = Main.properties(s);
        assertEquals(StreamsConfig.EXACTLY_ONCE_V2, p.get(StreamsConfig.PROCESSING_GUARANTEE_CONFIG));
        assertEquals("20", p.get(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG));
        assertEquals("2", p.get(StreamsConfig.NUM_STREAM_THREADS_CONFIG));
    }

    @Test
    void settingsReportEveryProblem() {
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
            () -> PeerSettings.parse(new String[] {"--threads", "0", "--commit-interval-ms", "x", "--bogus", "1"},
                java.util.Map.of("KSTREAMS_OUTPUT_TOPIC", "o")));
        for (String want : List.of("--input-topic is required", "--threads 0", "--commit-interval-ms x", "--bogus")) {
            assertTrue(e.getMessage().contains(want), "missing " + want + " in: " + e.getMessage());
        }
        assertTrue(!e.getMessage().contains("--output-topic is required"), "the environment's output topic was ignored: " + e.getMessage());
    }
}
