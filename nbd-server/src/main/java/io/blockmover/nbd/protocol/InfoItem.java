package io.blockmover.nbd.protocol;

import static io.blockmover.nbd.protocol.NbdConstants.*;

/** The payload of NBD_REP_INFO: u16 info type, then its data. */
public sealed interface InfoItem {

    int infoType();

    /** NBD_INFO_EXPORT: size and transmission flags; mandatory before GO's ACK. */
    record Export(long size, int transmissionFlags) implements InfoItem {
        public Export {
            if (size < 0) {
                throw new IllegalArgumentException("export size is negative: " + size);
            }
            if ((transmissionFlags & ~0xFFFF) != 0) {
                throw new IllegalArgumentException("transmission flags are 16 bits: " + transmissionFlags);
            }
        }

        public int infoType() {
            return INFO_EXPORT;
        }
    }

    record Name(String name) implements InfoItem {
        public Name {
            Strings.checkLength(name, "export name");
        }

        public int infoType() {
            return INFO_NAME;
        }
    }

    record Description(String description) implements InfoItem {
        public Description {
            Strings.checkLength(description, "export description");
        }

        public int infoType() {
            return INFO_DESCRIPTION;
        }
    }

    record BlockSize(int minimum, int preferred, int maximumPayload) implements InfoItem {
        public int infoType() {
            return INFO_BLOCK_SIZE;
        }
    }

    /** Decoded only: an info type this implementation does not know. */
    record Unknown(int infoType, byte[] data) implements InfoItem {}
}
