package io.invsync.bench.kstreams;

import java.util.function.LongSupplier;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.state.Stores;

/**
 * The peer's topology: input topic → apply (stock and applied-transactions
 * stores) → output topic.
 *
 * <p>Both stores are persistent RocksDB key-value stores with changelogs
 * (logging on, as exactly-once needs) and without the record cache: an
 * uncached store writes each update to RocksDB and to its changelog as it
 * happens, so the producer sends changelog records throughout the commit
 * interval rather than in one burst when the cache is flushed at commit.
 * With keys that are new for every transaction (the applied store) a cache
 * would save nothing.
 *
 * <p>No repartition: the input is already keyed and partitioned by stock
 * key, and every record of one stock key (all its locations and lots) is
 * owned by the same task, so a MOVE's two legs are local.
 */
final class StockTopology {
    private StockTopology() {}

    static Topology build(String inputTopic, String outputTopic, int transactionSchemaId, int eventSchemaId,
                          LongSupplier clock, ApplyTransaction.Counters counters) {
        StreamsBuilder b = new StreamsBuilder();
        b.addStateStore(Stores.keyValueStoreBuilder(
            Stores.persistentKeyValueStore(ApplyTransaction.STOCK_STORE), Serdes.String(), StockState.serde()));
        b.addStateStore(Stores.keyValueStoreBuilder(
            Stores.persistentKeyValueStore(ApplyTransaction.APPLIED_STORE), Serdes.String(), Serdes.ByteArray()));
        b.stream(inputTopic, Consumed.with(Serdes.String(), WireFormat.transactions(transactionSchemaId)).withName("transactions"))
            .process(() -> new ApplyTransaction(clock, counters), Named.as("apply"),
                ApplyTransaction.STOCK_STORE, ApplyTransaction.APPLIED_STORE)
            .to(outputTopic, Produced.with(Serdes.String(), WireFormat.events(eventSchemaId)).withName("events"));
        return b.build();
    }
}
