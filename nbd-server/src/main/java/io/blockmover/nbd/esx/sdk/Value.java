package io.blockmover.nbd.esx.sdk;

import java.util.List;
import java.util.function.Consumer;

/** A property's value as it goes into a {@code DynamicProperty}'s {@code val} (an {@code anyType}). */
sealed interface Value {
    void write(SoapWriter w, String tag);

    /** The references this value holds, for traversal specs ({@code Folder.childEntity} etc.). */
    default List<Mor> refs() {
        return List.of();
    }

    record Ref(Mor mor) implements Value {
        @Override
        public void write(SoapWriter w, String tag) {
            w.typedMor(tag, mor);
        }

        @Override
        public List<Mor> refs() {
            return List.of(mor);
        }
    }

    record Refs(List<Mor> mors) implements Value {
        @Override
        public void write(SoapWriter w, String tag) {
            w.morArray(tag, mors);
        }

        @Override
        public List<Mor> refs() {
            return mors;
        }
    }

    /** A simple or enum value with its type, e.g. {@code xsd:string} or {@code VirtualMachinePowerState}. */
    record Simple(String xsiType, Object value) implements Value {
        static Simple string(String s) {
            return new Simple("xsd:string", s);
        }

        static Simple bool(boolean b) {
            return new Simple("xsd:boolean", b);
        }

        @Override
        public void write(SoapWriter w, String tag) {
            w.typedText(tag, xsiType, value);
        }
    }

    /** A data object (or array of them) written by {@code body} inside {@code <tag xsi:type="…">}. */
    record Data(String xsiType, Consumer<SoapWriter> body) implements Value {
        @Override
        public void write(SoapWriter w, String tag) {
            w.start(tag, xsiType);
            body.accept(w);
            w.end();
        }
    }
}
