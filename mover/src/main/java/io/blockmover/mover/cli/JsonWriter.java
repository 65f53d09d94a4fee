package io.blockmover.mover.cli;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.MinimalPrettyPrinter;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;

import java.io.IOException;
import java.util.Locale;

/**
 * Renders the {@code --json} output of commands (maps, lists, strings, numbers, booleans)
 * through Jackson, on one line with {@code "key": value} spacing, and fractions to three
 * decimals (a non-finite one as null), as scripts have read it so far.
 */
final class JsonWriter {
    private static final ObjectWriter WRITER = new ObjectMapper()
            .registerModule(new SimpleModule("blockmover-cli").addSerializer(Double.class, new FractionSerializer()))
            .writer(new OneLine());

    private JsonWriter() {}

    static String write(Object value) {
        try {
            return WRITER.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot render " + value.getClass().getSimpleName() + " as JSON", e);
        }
    }

    /** One line, a space after each colon and comma. */
    private static final class OneLine extends MinimalPrettyPrinter {
        @Override
        public void writeObjectFieldValueSeparator(JsonGenerator g) throws IOException {
            g.writeRaw(": ");
        }

        @Override
        public void writeObjectEntrySeparator(JsonGenerator g) throws IOException {
            g.writeRaw(", ");
        }

        @Override
        public void writeArrayValueSeparator(JsonGenerator g) throws IOException {
            g.writeRaw(", ");
        }
    }

    private static final class FractionSerializer extends StdSerializer<Double> {
        FractionSerializer() {
            super(Double.class);
        }

        @Override
        public void serialize(Double v, JsonGenerator g, SerializerProvider provider) throws IOException {
            if (Double.isFinite(v)) {
                g.writeNumber(String.format(Locale.ROOT, "%.3f", v));
            } else {
                g.writeNull();
            }
        }
    }
}
