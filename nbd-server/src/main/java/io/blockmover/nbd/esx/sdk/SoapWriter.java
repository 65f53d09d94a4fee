package io.blockmover.nbd.esx.sdk;

import javax.xml.XMLConstants;
import javax.xml.stream.XMLOutputFactory;
import javax.xml.stream.XMLStreamException;
import javax.xml.stream.XMLStreamWriter;
import java.io.ByteArrayOutputStream;
import java.time.Instant;
import java.util.Collection;

/**
 * Writes one SOAP answer with StAX, in the shapes vSphere uses and yavijava's strict reader
 * accepts: elements in the {@code urn:vim25} namespace, polymorphic values typed with
 * {@code xsi:type}, and managed object references whose plain {@code type} attribute comes
 * <em>before</em> any {@code xsi:type} (yavijava takes the first attribute named {@code type}).
 */
final class SoapWriter {
    static final String SOAPENV = "http://schemas.xmlsoap.org/soap/envelope/";
    static final String VIM = "urn:vim25";
    private static final String XSI = XMLConstants.W3C_XML_SCHEMA_INSTANCE_NS_URI;
    private static final String XSD = XMLConstants.W3C_XML_SCHEMA_NS_URI;
    private static final XMLOutputFactory FACTORY = XMLOutputFactory.newFactory();

    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream(4096);
    private final XMLStreamWriter w;

    private SoapWriter() {
        try {
            w = FACTORY.createXMLStreamWriter(bytes, "UTF-8");
            w.writeStartDocument("UTF-8", "1.0");
            w.setPrefix("soapenv", SOAPENV);
            w.writeStartElement(SOAPENV, "Envelope");
            w.writeNamespace("soapenv", SOAPENV);
            w.writeNamespace("xsd", XSD);
            w.writeNamespace("xsi", XSI);
            w.writeStartElement(SOAPENV, "Body");
        } catch (XMLStreamException e) {
            throw new IllegalStateException("cannot start a SOAP answer", e);
        }
    }

    /** An answer to {@code method}: the body holds {@code <methodResponse xmlns="urn:vim25">}. */
    static SoapWriter response(String method) {
        SoapWriter s = new SoapWriter();
        try {
            s.w.writeStartElement("", method + "Response", VIM);
            s.w.writeDefaultNamespace(VIM);
        } catch (XMLStreamException e) {
            throw new IllegalStateException(e);
        }
        return s;
    }

    /** A SOAP fault; its detail carries {@code <TypeFault xsi:type="Type">} with the fault's field. */
    static byte[] fault(SdkFault f) {
        SoapWriter s = new SoapWriter();
        try {
            s.w.writeStartElement(SOAPENV, "Fault");
            s.w.writeStartElement("faultcode");
            s.w.writeCharacters(f.faultCode());
            s.w.writeEndElement();
            s.w.writeStartElement("faultstring");
            s.w.writeCharacters(f.getMessage());
            s.w.writeEndElement();
            s.w.writeStartElement("detail");
            s.w.writeStartElement("", f.faultType() + "Fault", VIM);
            s.w.writeDefaultNamespace(VIM);
            s.w.writeAttribute("xsi", XSI, "type", f.faultType());
            if (f.field().isPresent()) {
                SdkFault.Field field = f.field().get();
                if (field.morType().isPresent()) {
                    s.mor(field.name(), new Mor(field.morType().get(), field.value()));
                } else {
                    s.text(field.name(), field.value());
                }
            }
            s.w.writeEndElement();
            s.w.writeEndElement();
            s.w.writeEndElement();
        } catch (XMLStreamException e) {
            throw new IllegalStateException(e);
        }
        return s.finish();
    }

    /** Closes every open element and the document; the bytes to send. */
    byte[] finish() {
        try {
            w.writeEndDocument();
            w.close();
        } catch (XMLStreamException e) {
            throw new IllegalStateException(e);
        }
        return bytes.toByteArray();
    }

    SoapWriter start(String tag) {
        try {
            w.writeStartElement(tag);
        } catch (XMLStreamException e) {
            throw new IllegalStateException(e);
        }
        return this;
    }

    /** Starts an element typed with {@code xsi:type} (a subtype, or any value of an {@code anyType} field). */
    SoapWriter start(String tag, String xsiType) {
        start(tag);
        return xsiType(xsiType);
    }

    private SoapWriter xsiType(String xsiType) {
        try {
            w.writeAttribute("xsi", XSI, "type", xsiType);
        } catch (XMLStreamException e) {
            throw new IllegalStateException(e);
        }
        return this;
    }

    SoapWriter end() {
        try {
            w.writeEndElement();
        } catch (XMLStreamException e) {
            throw new IllegalStateException(e);
        }
        return this;
    }

    SoapWriter text(String tag, Object value) {
        start(tag);
        try {
            w.writeCharacters(String.valueOf(value));
        } catch (XMLStreamException e) {
            throw new IllegalStateException(e);
        }
        return end();
    }

    /** A typed simple value, e.g. {@code <val xsi:type="xsd:string">}. */
    SoapWriter typedText(String tag, String xsiType, Object value) {
        start(tag, xsiType);
        try {
            w.writeCharacters(String.valueOf(value));
        } catch (XMLStreamException e) {
            throw new IllegalStateException(e);
        }
        return end();
    }

    SoapWriter time(String tag, Instant at) {
        return text(tag, at.toString());
    }

    SoapWriter mor(String tag, Mor mor) {
        start(tag);
        try {
            w.writeAttribute("type", mor.type());
            w.writeCharacters(mor.value());
        } catch (XMLStreamException e) {
            throw new IllegalStateException(e);
        }
        return end();
    }

    /** A reference as a value of an {@code anyType} field: {@code type} first, then {@code xsi:type}. */
    SoapWriter typedMor(String tag, Mor mor) {
        start(tag);
        try {
            w.writeAttribute("type", mor.type());
            w.writeAttribute("xsi", XSI, "type", "ManagedObjectReference");
            w.writeCharacters(mor.value());
        } catch (XMLStreamException e) {
            throw new IllegalStateException(e);
        }
        return end();
    }

    /** {@code <val xsi:type="ArrayOfManagedObjectReference">} of references. */
    SoapWriter morArray(String tag, Collection<Mor> mors) {
        start(tag, "ArrayOfManagedObjectReference");
        mors.forEach(m -> mor("ManagedObjectReference", m));
        return end();
    }
}
