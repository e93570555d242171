package io.invsync.bench.kstreams;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;

import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.Test;

import io.invsync.v1.EventType;
import io.invsync.v1.InventoryEvent;
import io.invsync.v1.Transaction;
import io.invsync.v1.TransactionType;

/**
 * The peer against byte vectors written by invsync's own encoders (bench
 * peer_test.go, TestPeerWireVectors, holds invsync to the same bytes): it
 * must decode invsync's Transaction records and encode InventoryEvents
 * exactly as invsync does.
 */
class WireFormatTest {
    static byte[] vector(String name) throws IOException {
        try (InputStream in = WireFormatTest.class.getResourceAsStream("/vectors/" + name)) {
            if (in == null) {
                throw new IOException("no vector " + name);
            }
            return HexFormat.of().parseHex(new String(in.readAllBytes(), StandardCharsets.US_ASCII).trim());
        }
    }

    @Test
    void decodesInvsyncTransaction() throws IOException {
        Transaction tx = WireFormat.transactions(1).deserializer().deserialize("t", vector("transaction.hex"));
        assertEquals("bench.vector.3.7", tx.getTransactionId());
        assertEquals(TransactionType.MOVE, tx.getType());
        assertEquals("WH-001", tx.getWarehouseId());
        assertEquals("ITEM-00042", tx.getItemId());
        assertEquals("A-01-01", tx.getLocationId());
        assertEquals("LOT-1", tx.getLotNumber());
        assertEquals(12L, tx.getQuantity());
        assertEquals("B-02-03", tx.getToLocationId());
        assertEquals(7L, tx.getExpectedVersion());
        assertNull(tx.getAllocationId());
        assertEquals(true, tx.getOverride());
        assertEquals("user-7", tx.getUserId());
        assertEquals("DAMAGE", tx.getReasonCode());
        assertEquals("SCANNER-08", tx.getScannerId());
        assertEquals(Instant.parse("2026-11-26T10:00:02Z"), tx.getDeviceTimestamp());
        assertEquals(Instant.parse("2026-11-26T10:00:02.500Z"), tx.getCorrectedTimestamp());
        assertEquals(Instant.parse("2026-11-26T10:30:00.123Z"), tx.getSentAt());
        assertEquals(Instant.parse("2026-11-26T10:30:01Z"), tx.getReceivedAt());
        ByteBuffer hash = tx.getBodyHash();
        assertEquals(32, hash.remaining());
        for (int i = 0; i < 32; i++) {
            assertEquals(i, hash.get(hash.position() + i));
        }
    }

    @Test
    void encodesEventsAsInvsyncDoes() throws IOException {
        InventoryEvent move = new InventoryEvent("evt-bench.vector.3.7-2", Instant.parse("2026-11-26T10:30:01.250Z"),
            EventType.InventoryMove, "ITEM-00042", "WH-001", "B-02-03", "LOT-1", 12L, 12L, "bench.vector.3.7",
            "SCANNER-08", "user-7", 1L, 0L, 12L, Instant.parse("2026-11-26T10:00:02Z"),
            Instant.parse("2026-11-26T10:00:02.500Z"), List.of(), null, null);
        InventoryEvent pick = new InventoryEvent("evt-bench.vector.3.8-1", Instant.parse("2026-11-26T10:30:02Z"),
            EventType.InventoryPick, "ITEM-00001", "WH-002", "C-10-01", null, -30L, -5L, "bench.vector.3.8",
            "SCANNER-09", "user-8", 4L, 0L, -5L, Instant.parse("2026-11-26T10:01:00Z"),
            Instant.parse("2026-11-26T10:01:00Z"), List.of("NEGATIVE_ON_HAND"), "ALLOC-9", null);
        var ser = WireFormat.events(2).serializer();
        assertArrayEquals(vector("event_move.hex"), ser.serialize("e", move));
        // The same serializer again: its reused buffer must not leak bytes of the last record.
        assertArrayEquals(vector("event_pick.hex"), ser.serialize("e", pick));
        assertArrayEquals(vector("event_move.hex"), ser.serialize("e", move));
    }

    /**
     * Kafka Streams shares a source's deserializer and a sink's serializer
     * between its stream threads: both must give every thread its own
     * record, whole and right, at the same time.
     */
    @Test
    void safeAcrossStreamThreads() throws Exception {
        byte[] txBytes = vector("transaction.hex");
        byte[] moveBytes = vector("event_move.hex");
        var de = WireFormat.transactions(1).deserializer();
        var ser = WireFormat.events(2).serializer();
        var evDe = WireFormat.events(2).deserializer();
        InventoryEvent move = evDe.deserialize("e", moveBytes);
        int threads = 4;
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
        java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
        List<java.util.concurrent.Future<Integer>> results = new java.util.ArrayList<>();
        for (int t = 0; t < threads; t++) {
            results.add(pool.submit(() -> {
                go.await();
                int bad = 0;
                for (int i = 0; i < 20000; i++) {
                    if (!de.deserialize("t", txBytes).getTransactionId().equals("bench.vector.3.7")) {
                        bad++;
                    }
                    if (!java.util.Arrays.equals(moveBytes, ser.serialize("e", move))) {
                        bad++;
                    }
                }
                return bad;
            }));
        }
        go.countDown();
        for (var r : results) {
            assertEquals(0, r.get(), "records garbled by concurrent use");
        }
        pool.shutdown();
    }

    @Test
    void rejectsWhatIsNotTheWireFormat() throws IOException {
        var de = WireFormat.transactions(1).deserializer();
        byte[] v = vector("transaction.hex");
        byte[] wrongMagic = v.clone();
        wrongMagic[0] = 1;
        assertThrows(SerializationException.class, () -> de.deserialize("t", wrongMagic));
        byte[] wrongId = v.clone();
        wrongId[4] = 9;
        assertThrows(SerializationException.class, () -> de.deserialize("t", wrongId));
        byte[] trailing = java.util.Arrays.copyOf(v, v.length + 1);
        assertThrows(SerializationException.class, () -> de.deserialize("t", trailing));
        byte[] cut = java.util.Arrays.copyOf(v, v.length - 3);
        assertThrows(SerializationException.class, () -> de.deserialize("t", cut));
        // Schema id 0 accepts any id.
        assertEquals("bench.vector.3.7", WireFormat.transactions(0).deserializer().deserialize("t", wrongId).getTransactionId());
    }
}
