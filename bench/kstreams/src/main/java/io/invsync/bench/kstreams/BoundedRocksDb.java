package io.invsync.bench.kstreams;

import java.util.Map;

import org.apache.kafka.streams.state.RocksDBConfigSetter;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.Cache;
import org.rocksdb.LRUCache;
import org.rocksdb.Options;
import org.rocksdb.WriteBufferManager;

/**
 * Bounds the memory of every RocksDB store of the instance together, as the
 * Kafka Streams memory-management guide recommends: one LRU block cache
 * shared by all stores, with memtables charged to it through a shared
 * WriteBufferManager, and index and filter blocks kept in the cache (high
 * priority, top level pinned) rather than outside any bound. Without it each
 * of the 24 store instances (12 partitions × 2 stores) would get its own
 * 50 MB block cache and 3 × 16 MB memtables.
 *
 * <p>The bound is {@link #MEMORY_CONFIG} in bytes, of which half may be
 * memtables (8 MB each, at most 2 per store before a flush).
 */
public final class BoundedRocksDb implements RocksDBConfigSetter {
    /** Streams config key of the total bound, in bytes. */
    public static final String MEMORY_CONFIG = "invsync.rocksdb.memory.bytes";

    private static final long MEMTABLE_BYTES = 8L << 20;
    private static final double INDEX_FILTER_RATIO = 0.1;

    private static Cache cache;
    private static WriteBufferManager writeBuffers;

    private static synchronized void init(long total) {
        if (cache == null) {
            cache = new LRUCache(total, -1, false, INDEX_FILTER_RATIO);
            writeBuffers = new WriteBufferManager(total / 2, cache);
        }
    }

    @Override
    public void setConfig(String storeName, Options options, Map<String, Object> configs) {
        Object v = configs.get(MEMORY_CONFIG);
        init(v == null ? 64L << 20 : Long.parseLong(v.toString()));
        BlockBasedTableConfig table = (BlockBasedTableConfig) options.tableFormatConfig();
        table.setBlockCache(cache);
        table.setCacheIndexAndFilterBlocks(true);
        table.setCacheIndexAndFilterBlocksWithHighPriority(true);
        table.setPinTopLevelIndexAndFilter(true);
        options.setTableFormatConfig(table);
        options.setWriteBufferManager(writeBuffers);
        options.setWriteBufferSize(MEMTABLE_BYTES);
        options.setMaxWriteBufferNumber(2);
    }

    @Override
    public void close(String storeName, Options options) {
        // The cache and the write-buffer manager are shared by every store
        // and live as long as the process; closing them here would pull
        // them from under the other stores.
    }
}
