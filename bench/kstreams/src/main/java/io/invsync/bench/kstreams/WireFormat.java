package io.invsync.bench.kstreams;

import java.io.IOException;
import java.nio.ByteBuffer;

import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

import io.invsync.v1.InventoryEvent;
import io.invsync.v1.Transaction;

/**
 * Serdes for the Confluent wire format invsync's topics use: magic byte 0, a
 * 4-byte big-endian schema id, then the Avro binary encoding of the record.
 * The schema id is written as configured rather than looked up in a
 * registry: the peer runs with the schemas it was built from
 * (../../schemas), whose ids are fixed when invsync runs without a registry.
 *
 * <p>Serializers and deserializers are safe for concurrent use: Kafka
 * Streams builds a topology's source and sink nodes once and shares their
 * (de)serializer instances between all stream threads. Each thread keeps
 * its own datum reader or writer, encoder or decoder and output buffer
 * (thread-local), so a record is encoded without allocating beyond its
 * result.
 */
final class WireFormat {
    static final byte MAGIC = 0;
    static final int HEADER = 5;

    private WireFormat() {}

    /** The Transaction serde; expectedId 0 accepts any schema id. */
    static Serde<Transaction> transactions(int expectedId) {
        return new AvroSerde<>(Transaction.class, expectedId);
    }

    /** The InventoryEvent serde, writing schemaId. */
    static Serde<InventoryEvent> events(int schemaId) {
        return new AvroSerde<>(InventoryEvent.class, schemaId);
    }

    static final class AvroSerde<T extends SpecificRecord> implements Serde<T> {
        private final Class<T> type;
        private final int schemaId;

        AvroSerde(Class<T> type, int schemaId) {
            this.type = type;
            this.schemaId = schemaId;
        }

        @Override
        public Serializer<T> serializer() {
            return new AvroSerializer<>(type, schemaId);
        }

        @Override
        public Deserializer<T> deserializer() {
            return new AvroDeserializer<>(type, schemaId);
        }
    }

    static final class AvroSerializer<T extends SpecificRecord> implements Serializer<T> {
        /** One thread's encoding state. */
        private static final class Encoding<T> {
            final SpecificDatumWriter<T> writer;
            final ReusableOutput out = new ReusableOutput();
            BinaryEncoder encoder;

            Encoding(Class<T> type) {
                writer = new SpecificDatumWriter<>(type);
            }
        }

        private final int schemaId;
        private final ThreadLocal<Encoding<T>> local;

        AvroSerializer(Class<T> type, int schemaId) {
            this.schemaId = schemaId;
            this.local = ThreadLocal.withInitial(() -> new Encoding<>(type));
        }

        @Override
        public byte[] serialize(String topic, T value) {
            if (value == null) {
                return null;
            }
            Encoding<T> e = local.get();
            ReusableOutput out = e.out;
            out.reset();
            out.write(MAGIC);
            out.write(schemaId >>> 24);
            out.write(schemaId >>> 16);
            out.write(schemaId >>> 8);
            out.write(schemaId);
            e.encoder = EncoderFactory.get().directBinaryEncoder(out, e.encoder);
            try {
                e.writer.write(value, e.encoder);
                e.encoder.flush();
            } catch (IOException | RuntimeException ex) {
                throw new SerializationException("encoding " + value.getSchema().getName() + " for " + topic, ex);
            }
            return out.toByteArray();
        }
    }

    static final class AvroDeserializer<T extends SpecificRecord> implements Deserializer<T> {
        /** One thread's decoding state. */
        private static final class Decoding<T> {
            final SpecificDatumReader<T> reader;
            BinaryDecoder decoder;

            Decoding(Class<T> type) {
                reader = new SpecificDatumReader<>(type);
            }
        }

        private final int expectedId;
        private final String name;
        private final ThreadLocal<Decoding<T>> local;

        AvroDeserializer(Class<T> type, int expectedId) {
            this.expectedId = expectedId;
            this.name = type.getSimpleName();
            this.local = ThreadLocal.withInitial(() -> new Decoding<>(type));
        }

        @Override
        public T deserialize(String topic, byte[] data) {
            if (data == null) {
                return null;
            }
            if (data.length < HEADER || data[0] != MAGIC) {
                throw new SerializationException(name + " on " + topic + ": not in the wire format (magic byte 0 and a schema id)");
            }
            int id = ByteBuffer.wrap(data, 1, 4).getInt();
            if (expectedId != 0 && id != expectedId) {
                throw new SerializationException(name + " on " + topic + ": schema id " + id + ", want " + expectedId);
            }
            Decoding<T> d = local.get();
            d.decoder = DecoderFactory.get().binaryDecoder(data, HEADER, data.length - HEADER, d.decoder);
            try {
                T value = d.reader.read(null, d.decoder);
                if (!d.decoder.isEnd()) {
                    throw new SerializationException(name + " on " + topic + ": trailing bytes after the record");
                }
                return value;
            } catch (SerializationException e) {
                throw e;
            } catch (IOException | RuntimeException e) {
                throw new SerializationException("decoding " + name + " on " + topic, e);
            }
        }
    }

    /** A ByteArrayOutputStream without synchronisation, reused per record. */
    static final class ReusableOutput extends java.io.OutputStream {
        private byte[] buf = new byte[512];
        private int n;

        void reset() {
            n = 0;
        }

        @Override
        public void write(int b) {
            if (n == buf.length) {
                buf = java.util.Arrays.copyOf(buf, buf.length * 2);
            }
            buf[n++] = (byte) b;
        }

        @Override
        public void write(byte[] b, int off, int len) {
            if (n + len > buf.length) {
                buf = java.util.Arrays.copyOf(buf, Math.max(buf.length * 2, n + len));
            }
            System.arraycopy(b, off, buf, n, len);
            n += len;
        }

        byte[] toByteArray() {
            return java.util.Arrays.copyOf(buf, n);
        }
    }
}
