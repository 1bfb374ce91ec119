package dev.tessera.api;

import com.microsoft.playwright.Browser;
import com.microsoft.playwright.BrowserContext;
import com.microsoft.playwright.BrowserType;
import com.microsoft.playwright.Page;
import com.microsoft.playwright.Playwright;
import io.quarkus.test.common.http.TestHTTPResource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;

import org.awaitility.Awaitility;

import java.net.URL;
import java.time.Duration;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A real browser for the console tests: Debian's Chromium, headless, driven by Playwright. Never a downloaded
 * browser: the driver is told not to fetch one, and every test is skipped (visibly, with the reason) where
 * /usr/bin/chromium is missing ({@code apt-get install chromium}; CI installs it; {@code -Dchromium.path=} points
 * elsewhere). Each test gets a fresh page at 1280×800; errors the page throws or logs fail the test; the page as a
 * test left it is saved as {@code target/console-screenshots/last-TEST.png}.
 */
abstract class BrowserSupport {
    static final Path CHROMIUM = Path.of(System.getProperty("chromium.path", "/usr/bin/chromium"));
    static final Path SHOTS = Path.of("target/console-screenshots");

    static Playwright playwright;
    static Browser browser;

    @TestHTTPResource("/")
    URL root;

    BrowserContext context;
    Page page;
    final List<String> pageErrors = new ArrayList<>();

    static final String NO_BROWSER = "browser tests skipped: no Chromium at " + CHROMIUM + " (apt-get install chromium)";

    @BeforeAll
    static void launch() throws Exception {
        if (!Files.isExecutable(CHROMIUM)) {
            System.err.println("WARNING " + NO_BROWSER); // and every test reports itself skipped with this reason
            return;
        }
        Files.createDirectories(SHOTS);
        playwright = Playwright.create(new Playwright.CreateOptions().setEnv(Map.of("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")));
        browser = playwright.chromium().launch(new BrowserType.LaunchOptions().setExecutablePath(CHROMIUM).setHeadless(true)
                .setArgs(List.of("--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--no-first-run")));
    }

    @AfterAll
    static void close() {
        if (browser != null) browser.close();
        if (playwright != null) playwright.close();
    }

    @BeforeEach
    void open() {
        assumeTrue(browser != null, NO_BROWSER);
        awaitReady();
        context = browser.newContext(new Browser.NewContextOptions().setViewportSize(1280, 800));
        context.setDefaultTimeout(30_000);
        page = context.newPage();
        page.onPageError(e -> pageErrors.add("page error: " + e));
        page.onConsoleMessage(m -> {
            // a refused request (e.g. the 413 a test provokes) is logged by Chromium itself; anything else is ours
            if (m.type().equals("error") && !m.text().startsWith("Failed to load resource")) pageErrors.add("console: " + m.text());
        });
        // ...but a static file the page asks for (script, style, icon) must never be missing
        page.onResponse(r -> {
            if (r.status() == 404 && r.url().matches(".*\\.(ico|js|mjs|css|html|svg|png)(\\?.*)?$")) pageErrors.add("missing: " + r.url());
        });
    }

    @AfterEach
    void closePage(org.junit.jupiter.api.TestInfo test) {
        // the page as the test left it: what to look at first when one fails
        if (page != null) shot("last-" + test.getTestMethod().map(java.lang.reflect.Method::getName).orElse("test"));
        if (context != null) context.close();
        assertEquals(List.of(), pageErrors, "errors in the page");
    }

    /** Every model loaded: what the pages show is then the whole catalogue (and no load is cut short at exit). */
    static void awaitReady() {
        Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> given().get("/health/ready").statusCode() == 200);
    }

    void go(String hash) {
        page.navigate(root.toString() + hash);
    }

    void shot(String name) {
        page.screenshot(new Page.ScreenshotOptions().setPath(SHOTS.resolve(name + ".png")).setFullPage(true));
    }
}
