package io.blockmover.index.format;

/** The passphrase does not unlock the repository's master key. */
public final class WrongPassphraseException extends RepositoryException {
    public WrongPassphraseException() {
        super("wrong passphrase: it does not unlock this repository's key");
    }
}
