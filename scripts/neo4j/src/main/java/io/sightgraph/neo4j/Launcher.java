package io.sightgraph.neo4j;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Stream;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.harness.Neo4j;
import org.neo4j.harness.Neo4jBuilders;
import org.neo4j.io.ByteUnit;
import org.neo4j.io.fs.FileUtils;

/**
 * Runs a real Neo4j Community 5.26 server (via neo4j-harness) until SIGTERM.
 *
 * <p>Usage: {@code Launcher <home-dir>}. Environment: NEO4J_PORT (Bolt port, default 7687),
 * NEO4J_PAGECACHE_MB (default 256). Bolt only (no HTTP), 127.0.0.1, auth disabled.
 *
 * <p>The harness always runs in a fresh random (md5-named) folder which it deletes on close;
 * we point {@code neo4j_home} at {@code <home-dir>} instead so the store persists between runs.
 * That random folder (under {@code <home-dir>/harness}) only holds the harness' own log files.
 */
public final class Launcher {
    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: Launcher <home-dir>");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        int port = Integer.parseInt(env("NEO4J_PORT", "7687"));
        long pageCacheMb = Long.parseLong(env("NEO4J_PAGECACHE_MB", "256"));

        Path harnessDir = home.resolve("harness");
        Files.createDirectories(harnessDir);
        removeStaleHarnessFolders(harnessDir); // left behind if a previous run was SIGKILLed

        Neo4j neo4j = Neo4jBuilders.newInProcessBuilder(harnessDir)
                .withDisabledServer() // no HTTP/HTTPS connectors
                .withConfig(GraphDatabaseSettings.neo4j_home, home)
                .withConfig(BoltConnector.enabled, true)
                .withConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .withConfig(BoltConnector.advertised_address, new SocketAddress("127.0.0.1", port))
                .withConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                .withConfig(GraphDatabaseSettings.auth_enabled, false)
                .withConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(pageCacheMb))
                .withConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                .withConfig(GraphDatabaseSettings.udc_enabled, false)
                // Bolt waits 5 s + 5 s on shutdown by default; a test server need not.
                .withConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time, Duration.ofSeconds(1))
                .withConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofSeconds(1))
                .build();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("NEO4J STOPPING");
            try {
                neo4j.close();
            } finally {
                System.out.println("NEO4J STOPPED");
                System.out.flush();
                stopped.countDown();
            }
        }, "neo4j-shutdown"));

        System.out.println("NEO4J READY bolt://127.0.0.1:" + port);
        System.out.flush();
        stopped.await(); // park the main thread; the JVM exits via SIGTERM -> shutdown hook
    }

    private static String env(String name, String dflt) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? dflt : v.trim();
    }

    private static void removeStaleHarnessFolders(Path dir) throws IOException {
        try (Stream<Path> children = Files.list(dir)) {
            for (Path p : (Iterable<Path>) children::iterator) {
                if (Files.isDirectory(p) && p.getFileName().toString().matches("[0-9a-f]{32}")) {
                    FileUtils.deleteDirectory(p);
                }
            }
        }
    }
}
