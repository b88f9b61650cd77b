package graphrag.testserver;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

import java.time.Duration;

import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;

/**
 * Throw-away Neo4j Community server for the graphrag test suite, run in-process from the Maven
 * Central jars (no Docker, no tarball).
 *
 * <pre>
 * java -Xmx1g [--add-opens ...] -cp 'neo4j-test-server.jar:lib/*' graphrag.testserver.Neo4jTestServer \
 *      DATA_DIR [BOLT_PORT] [--browser [HTTP_PORT]]
 * </pre>
 *
 * <ul>
 *   <li>DATA_DIR  – Neo4j home directory (data/, logs/ are created inside it); created if missing.</li>
 *   <li>BOLT_PORT – Bolt port on 127.0.0.1 (default 7687). Plain-text Bolt, authentication disabled.</li>
 *   <li>--browser – also start the HTTP connector on 127.0.0.1:HTTP_PORT (default 7474), which serves
 *       the HTTP API and Neo4j Browser at http://127.0.0.1:7474/browser/.</li>
 * </ul>
 *
 * Prints {@code NEO4J_TEST_SERVER_READY bolt://127.0.0.1:PORT} on stdout once the DBMS (and so the
 * Bolt connector) is up. Stops cleanly on SIGTERM / SIGINT via a shutdown hook.
 */
public final class Neo4jTestServer {

    private Neo4jTestServer() {}

    private static void usage(String problem) {
        System.err.println("error: " + problem);
        System.err.println("usage: Neo4jTestServer DATA_DIR [BOLT_PORT] [--browser [HTTP_PORT]]");
        System.exit(2);
    }

    private static int parsePort(String s, String what) {
        try {
            int p = Integer.parseInt(s);
            if (p < 1 || p > 65535) {
                usage(what + " out of range: " + s);
            }
            return p;
        } catch (NumberFormatException e) {
            usage(what + " is not a number: " + s);
            return -1; // unreachable
        }
    }

    public static void main(String[] args) throws IOException, InterruptedException {
        Path home = null;
        int boltPort = 7687;
        boolean browser = false;
        int httpPort = 7474;
        boolean boltPortSeen = false;

        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--browser") || a.equals("-browser")) {
                browser = true;
                if (i + 1 < args.length && args[i + 1].matches("\\d+")) {
                    httpPort = parsePort(args[++i], "HTTP port");
                }
            } else if (a.equals("-h") || a.equals("--help")) {
                usage("help requested");
            } else if (a.startsWith("-")) {
                usage("unknown option " + a);
            } else if (home == null) {
                home = Path.of(a).toAbsolutePath();
            } else if (!boltPortSeen) {
                boltPort = parsePort(a, "Bolt port");
                boltPortSeen = true;
            } else {
                usage("unexpected argument " + a);
            }
        }
        if (home == null) {
            usage("DATA_DIR is required");
        }
        Files.createDirectories(home);

        long t0 = System.nanoTime();
        DatabaseManagementServiceBuilder builder = new DatabaseManagementServiceBuilder(home)
                // Bolt: plain text on loopback only
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", boltPort))
                .setConfig(BoltConnector.advertised_address, new SocketAddress("127.0.0.1", boltPort))
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                .setConfig(GraphDatabaseSettings.auth_enabled, false)
                // Everything else listens on loopback too (and HTTP/HTTPS stay off unless --browser)
                .setConfig(GraphDatabaseSettings.default_listen_address, new SocketAddress("127.0.0.1"))
                .setConfig(GraphDatabaseSettings.default_advertised_address, new SocketAddress("127.0.0.1"))
                .setConfig(HttpConnector.enabled, browser)
                .setConfig(HttpsConnector.enabled, false)
                // Test-friendly footprint: no usage reporting (no network here), small page cache,
                // no 250 MB transaction-log preallocation.
                .setConfig(GraphDatabaseSettings.udc_enabled, false)
                .setConfig(GraphDatabaseSettings.pagecache_memory, 128L * 1024 * 1024)
                .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                // Fast stop: by default the database waits 10 s for open transactions, Netty waits a
                // 5 s quiet period, and Bolt waits up to 5 min for connections/worker threads.
                .setConfig(GraphDatabaseSettings.shutdown_transaction_end_timeout, Duration.ofSeconds(2))
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0)
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_timeout, Duration.ofSeconds(5))
                .setConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time, Duration.ofSeconds(5))
                .setConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofSeconds(5));
        if (browser) {
            builder.setConfig(HttpConnector.listen_address, new SocketAddress("127.0.0.1", httpPort))
                    .setConfig(HttpConnector.advertised_address, new SocketAddress("127.0.0.1", httpPort));
        }

        final DatabaseManagementService managementService = builder.build();
        final CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("NEO4J_TEST_SERVER_STOPPING");
            System.out.flush();
            try {
                managementService.shutdown();
            } catch (Throwable t) {
                System.err.println("error during shutdown: " + t);
            } finally {
                stopped.countDown();
            }
            System.out.println("NEO4J_TEST_SERVER_STOPPED");
            System.out.flush();
        }, "neo4j-test-server-shutdown"));

        // Fail fast (and loudly) if the default database did not come up.
        GraphDatabaseService db = managementService.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
        if (!db.isAvailable(60_000)) {
            System.err.println("default database did not become available; see " + home.resolve("logs/debug.log"));
            System.exit(1);
        }
        db.executeTransactionally("RETURN 1");

        long ms = (System.nanoTime() - t0) / 1_000_000;
        System.out.println("Neo4j Community " + org.neo4j.kernel.internal.Version.getNeo4jVersion()
                + " started in " + ms + " ms; home " + home);
        if (browser) {
            System.out.println("Neo4j Browser: http://127.0.0.1:" + httpPort + "/browser/");
        }
        System.out.println("NEO4J_TEST_SERVER_READY bolt://127.0.0.1:" + boltPort);
        System.out.flush();

        // Block the main thread until the shutdown hook has run (SIGTERM/SIGINT/System.exit).
        stopped.await();
    }
}
