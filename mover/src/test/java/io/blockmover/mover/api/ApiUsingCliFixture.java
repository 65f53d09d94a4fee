package io.blockmover.mover.api;

import io.blockmover.mover.cli.Main;

/** An api class that reaches into cli, for ArchitectureTest to catch; test code, never shipped. */
final class ApiUsingCliFixture {
    private ApiUsingCliFixture() {
    }

    static String name() {
        return Main.class.getSimpleName();
    }
}
