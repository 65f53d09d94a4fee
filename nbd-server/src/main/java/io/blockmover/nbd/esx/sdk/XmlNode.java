package io.blockmover.nbd.esx.sdk;

import javax.xml.XMLConstants;
import javax.xml.stream.XMLInputFactory;
import javax.xml.stream.XMLStreamConstants;
import javax.xml.stream.XMLStreamException;
import javax.xml.stream.XMLStreamReader;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * One element of a SOAP request, read with StAX: local name, the two attributes vSphere uses
 * ({@code type} of a managed object reference and {@code xsi:type} of a polymorphic value), text
 * and child elements. Requests are small (kilobytes), so a tree is simpler than streaming.
 */
record XmlNode(String name, Optional<String> type, Optional<String> xsiType, String text, List<XmlNode> children) {
    private static final String XSI = XMLConstants.W3C_XML_SCHEMA_INSTANCE_NS_URI;
    private static final XMLInputFactory FACTORY = newFactory();

    private static XMLInputFactory newFactory() {
        XMLInputFactory f = XMLInputFactory.newFactory();
        // A SOAP request has no business declaring entities: refuse them (XXE, entity bombs).
        f.setProperty(XMLInputFactory.SUPPORT_DTD, false);
        f.setProperty(XMLInputFactory.IS_SUPPORTING_EXTERNAL_ENTITIES, false);
        return f;
    }

    static XmlNode parse(InputStream in) throws SdkFault {
        try {
            XMLStreamReader r = FACTORY.createXMLStreamReader(in, "UTF-8");
            try {
                while (r.next() != XMLStreamConstants.START_ELEMENT) {
                    // skip the prolog
                }
                return read(r);
            } finally {
                r.close();
            }
        } catch (XMLStreamException | java.util.NoSuchElementException e) {
            throw SdkFault.invalidRequest("malformed SOAP request: " + e.getMessage());
        }
    }

    /** Reads the element the reader stands on, up to and including its end tag. */
    private static XmlNode read(XMLStreamReader r) throws XMLStreamException {
        String name = r.getLocalName();
        String type = null;
        String xsiType = null;
        for (int i = 0; i < r.getAttributeCount(); i++) {
            if (!"type".equals(r.getAttributeLocalName(i))) {
                continue;
            }
            if (XSI.equals(r.getAttributeNamespace(i))) {
                xsiType = stripPrefix(r.getAttributeValue(i));
            } else {
                type = r.getAttributeValue(i);
            }
        }
        List<XmlNode> children = new ArrayList<>();
        StringBuilder text = new StringBuilder();
        while (true) {
            int event = r.next();
            switch (event) {
                case XMLStreamConstants.START_ELEMENT -> children.add(read(r));
                case XMLStreamConstants.CHARACTERS, XMLStreamConstants.CDATA -> text.append(r.getText());
                case XMLStreamConstants.END_ELEMENT -> {
                    return new XmlNode(name, Optional.ofNullable(type), Optional.ofNullable(xsiType),
                            text.toString().strip(), List.copyOf(children));
                }
                default -> {
                    // comments, whitespace, processing instructions
                }
            }
        }
    }

    private static String stripPrefix(String qname) {
        int colon = qname.indexOf(':');
        return colon < 0 ? qname : qname.substring(colon + 1);
    }

    /** The first child of that name. */
    Optional<XmlNode> child(String childName) {
        return children.stream().filter(c -> c.name.equals(childName)).findFirst();
    }

    List<XmlNode> all(String childName) {
        return children.stream().filter(c -> c.name.equals(childName)).toList();
    }

    /** A required child, or InvalidArgument naming it. */
    XmlNode require(String childName) throws SdkFault {
        return child(childName).orElseThrow(() -> SdkFault.invalidArgument(childName));
    }

    Optional<String> text(String childName) {
        return child(childName).map(XmlNode::text);
    }

    String requireText(String childName) throws SdkFault {
        return require(childName).text();
    }

    boolean bool(String childName, boolean fallback) {
        return text(childName).map(Boolean::parseBoolean).orElse(fallback);
    }

    long number(String childName, long fallback) throws SdkFault {
        Optional<String> v = text(childName);
        if (v.isEmpty()) {
            return fallback;
        }
        try {
            return Long.parseLong(v.get());
        } catch (NumberFormatException e) {
            throw SdkFault.invalidArgument(childName);
        }
    }

    /** This element as a managed object reference: its {@code type} attribute and text. */
    Mor mor() throws SdkFault {
        return new Mor(type.orElseThrow(() -> SdkFault.invalidArgument(name)), text);
    }
}
