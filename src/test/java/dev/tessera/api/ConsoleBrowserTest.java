package dev.tessera.api;

import com.microsoft.playwright.Locator;
import com.microsoft.playwright.Page;
import com.microsoft.playwright.options.AriaRole;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static com.microsoft.playwright.assertions.PlaywrightAssertions.assertThat;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The web console in a real browser ({@link BrowserSupport}: Debian's Chromium, headless, Playwright) against the
 * running app: every view, classify and compare texts, the ALiBi and too-long notes, a tiny job whose curve grows
 * until it is cancelled, labels, keyboard and layout at 1280×800 and 800×600. Screenshots go to
 * {@code target/console-screenshots/}.
 */
@QuarkusTest
@TestProfile(ConsoleProfile.class)
class ConsoleBrowserTest extends BrowserSupport {
    @Test
    void modelsListsEveryModelAndTheDirectoryThatFailed() {
        go("#models");
        Locator rows = page.locator("#models-table tbody tr");
        int loaded = given().get("/v1/models").then().extract().path("models.size()");
        assertThat(rows).hasCount(loaded);
        Locator cls = page.locator("#models-table tbody tr", new Page.LocatorOptions().setHasText("mosaic-cls12"));
        assertThat(cls).containsText("default");
        assertThat(cls).containsText("mosaic_bert");
        assertThat(cls).containsText("classification");
        assertThat(page.locator("#models-failed")).containsText("hostile-pickle");
        shot("models");
    }

    @Test
    void classifyATextAndSeeTheBarsAndTokens() {
        go("#try");
        page.getByLabel("Model", new Page.GetByLabelOptions().setExact(true)).selectOption("mosaic-cls12");
        String text = "the film was a wonderful surprise";
        page.getByLabel("Text", new Page.GetByLabelOptions().setExact(true)).fill(text);
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Run")).click();

        List<Map<String, Object>> want = given().contentType(ContentType.JSON).body(Map.of("inputs", text))
                .post("/v1/models/mosaic-cls12/predict").then().statusCode(200).extract().path("");
        Locator bars = page.locator("#try-result .bars li");
        assertThat(bars).hasCount(want.size());
        for (int i = 0; i < want.size(); i++) {
            assertThat(bars.nth(i).locator(".bar-label")).hasText((String) want.get(i).get("label"));
            double score = ((Number) want.get(i).get("score")).doubleValue();
            assertThat(bars.nth(i).locator(".bar-value")).hasText(String.format(java.util.Locale.ROOT, "%.1f%%", 100 * score));
        }
        int tokens = given().contentType(ContentType.JSON).body(Map.of("inputs", text)).post("/v1/models/mosaic-cls12/tokenize")
                .then().extract().path("[0].size()");
        assertThat(page.locator("#try-tokens .tokens li")).hasCount(tokens);
        assertThat(page.locator("#try-tokens")).containsText(tokens + " tokens");
        shot("try-1280x800");
        page.setViewportSize(800, 600);
        assertNoSideways();
        shot("try-800x600");
    }

    @Test
    void aPairARegressionModelAndAModelWithoutClassifier() {
        go("#try/mosaic-cls12");
        page.getByLabel("Text", new Page.GetByLabelOptions().setExact(true)).fill("a man plays the guitar");
        page.getByLabel("Second text").fill("someone makes music");
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Run")).click();
        String top = given().contentType(ContentType.JSON).body(Map.of("inputs", List.of("a man plays the guitar", "someone makes music")))
                .post("/v1/models/mosaic-cls12/predict").then().statusCode(200).extract().path("[0].label");
        assertThat(page.locator("#try-result .bars li").first().locator(".bar-label")).hasText(top);
        assertThat(page.locator("#try-tokens .tokens li.second")).not().hasCount(0); // segment B is marked

        go("#try/mosaic-reg-bin");
        page.getByLabel("Second text").fill("");
        page.getByLabel("Text", new Page.GetByLabelOptions().setExact(true)).fill("the cat was lovely");
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Run")).click();
        float score = given().contentType(ContentType.JSON).body(Map.of("inputs", "the cat was lovely"))
                .post("/v1/models/mosaic-reg-bin/predict").then().statusCode(200).extract().path("[0].score");
        // the page shows 3 significant digits
        String shown = new java.math.BigDecimal(Float.toString(score)).round(new java.math.MathContext(3)).stripTrailingZeros().toPlainString();
        assertTrue(Math.abs(score) >= 1e-3 && Math.abs(score) < 1e5, "a score the page prints in plain notation: " + score);
        assertThat(page.locator("#try-result .score")).containsText(shown);

        // an MLM checkpoint has no classifier: only the embeddings comparison is offered
        go("#try/mosaic-mlm-sharded-bf16");
        assertThat(page.getByLabel("Classify a text or a pair")).isDisabled();
        assertThat(page.getByLabel("Compare texts (embeddings)")).isChecked();
    }

    @Test
    void inputsPastTheTrainingLengthGetTheAlibiNoteAndPastTheMaximumA422() {
        go("#try/mosaic-cls12");
        // mosaic-cls12: alibi_starting_size 16, served up to 32 tokens (the test profile)
        String longer = "the cat";
        while (tokens(longer) <= 16) longer += " was here";
        assertTrue(tokens(longer) <= 32, longer);
        page.getByLabel("Text", new Page.GetByLabelOptions().setExact(true)).fill(longer);
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Run")).click();
        assertThat(page.locator("#try-tokens .note")).containsText("ALiBi");
        assertThat(page.locator("#try-result .bars li")).not().hasCount(0);

        page.getByLabel("Text", new Page.GetByLabelOptions().setExact(true)).fill((longer + " ").repeat(3));
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Run")).click();
        assertThat(page.locator("#try-result .error")).containsText("422"); // TEI: too long is a Validation error
        assertThat(page.locator("#try-tokens .note")).containsText("longer than this model's maximum of 32");
        page.getByLabel("Truncate inputs longer than the model's maximum").check();
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Run")).click();
        assertThat(page.locator("#try-result .bars li")).not().hasCount(0);
        assertThat(page.locator("#try-tokens .note")).containsText("truncated");
    }

    @Test
    void compareTextsShowsTheirCosineSimilarities() {
        go("#try/mosaic-cls12");
        page.getByLabel("Compare texts (embeddings)").check();
        page.getByLabel("Texts, one per line").fill("the cat sees the ball\na dog finds the old house\nthe cat sees the ball");
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Run")).click();
        Locator cells = page.locator("#try-result table.sim tbody td");
        assertThat(cells).hasCount(9);
        for (int i = 0; i < 3; i++) assertThat(cells.nth(4 * i)).hasText("1.000"); // the diagonal
        assertThat(cells.nth(2)).hasText("1.000"); // texts 1 and 3 are the same
        assertNotEquals("1.000", cells.nth(1).textContent());
        assertThat(page.locator("#try-tokens .tokens-of")).hasCount(3);
    }

    @Test
    void aLongTextComparedWithAClassicBertIsEmbeddedInWindows() {
        go("#try/bert-mlm-bin"); // 64 learned positions
        page.getByLabel("Compare texts (embeddings)").check();
        String longText = "the movie was good and the plot was not bad at all ".repeat(8).trim();
        page.getByLabel("Texts, one per line").fill(longText + "\nthe movie was good");
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Run")).click();
        assertThat(page.locator("#try-result table.sim tbody td")).hasCount(4);
        assertThat(page.locator("#try-tokens .note")).containsText("embedded in windows of 64 tokens");
    }

    @Test
    void submitATinyJobWatchItsCurveGrowAndCancelIt() {
        go("#jobs");
        page.getByLabel("Recipe", new Page.GetByLabelOptions().setExact(true)).selectOption(
                new com.microsoft.playwright.options.SelectOption().setLabel(ConsoleProfile.LONG_PRETRAIN + " (pretrain)"));
        assertThat(page.getByLabel("Kind")).hasValue("pretrain");
        page.locator("#job-recipe-preview summary").click();
        assertThat(page.locator("#job-recipe-text")).containsText("runs until cancelled");
        page.getByLabel("Overrides").fill("training.eval_interval=6\n# a comment line\n");
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Submit job")).click();

        page.waitForURL("**#job/job-*");
        String id = page.url().replaceFirst(".*#job/", "");
        assertThat(page.locator("#job-status")).hasText("running", new com.microsoft.playwright.assertions.LocatorAssertions
                .HasTextOptions().setTimeout(60_000));
        Locator loss = page.locator("#chart-loss");
        page.waitForFunction("() => +document.querySelector('#chart-loss').dataset.points >= 3");
        int seen = Integer.parseInt(loss.getAttribute("data-points"));
        page.waitForFunction("n => +document.querySelector('#chart-loss').dataset.points > n", seen);
        assertThat(page.locator("#chart-lr path.chart-line")).hasCount(1);
        // past the 100 warmup steps, so the screenshot shows the rate's ramp and the loss falling
        page.waitForFunction("() => +document.querySelector('#chart-loss').dataset.points >= 75", null,
                new Page.WaitForFunctionOptions().setTimeout(120_000));
        assertThat(loss).hasAttribute("aria-label", java.util.regex.Pattern.compile("Training loss: \\d+ points"));
        assertThat(page.locator("#job-metrics table tr")).not().hasCount(0); // evaluated at step 6
        assertNotEquals("–", page.locator("#job-stats div", new Page.LocatorOptions().setHasText("Tokens/s"))
                .locator(".stat-v").textContent());
        shot("job-1280x800");
        page.setViewportSize(800, 600);
        assertNoSideways();
        shot("job-800x600");
        page.setViewportSize(1280, 800);

        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Cancel job")).click();
        assertThat(page.locator("#job-status")).hasText("cancelled");
        assertThat(page.locator("#job-stream")).hasText("Finished: cancelled.");
        assertThat(page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Cancel job"))).isDisabled();
        given().get("/v1/jobs/" + id).then().statusCode(200).body("status", org.hamcrest.Matchers.equalTo("cancelled"));
        int points = given().get("/v1/jobs/" + id).then().extract().path("loss_history.size()");
        assertEquals(points, Integer.parseInt(loss.getAttribute("data-points")), "the page shows every point the job has");

        page.getByRole(AriaRole.LINK, new Page.GetByRoleOptions().setName("Jobs").setExact(true)).click();
        assertThat(page.locator("#jobs-table tr[data-job='" + id + "']")).containsText("cancelled");
    }

    @Test
    void aBadSubmissionListsEveryProblem() {
        go("#jobs");
        page.getByLabel("Overrides").fill("optimizer.lr=-1\nmodel.hidden=30\n");
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Submit job")).click();
        assertThat(page.locator("#job-problems li", new Page.LocatorOptions().setHasText("optimizer.lr"))).hasCount(1);
        assertThat(page.locator("#job-problems")).containsText("model.hidden");
        page.getByLabel("Overrides").fill("no equals sign here");
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Submit job")).click();
        assertThat(page.locator("#job-problems")).containsText("expected key=value");
        // a recipe that reads outside tessera.jobs.data-roots: 403 with the path, not a request for a key
        page.getByLabel("Overrides").fill("");
        page.getByLabel("Recipe", new Page.GetByLabelOptions().setExact(true)).selectOption(
                new com.microsoft.playwright.options.SelectOption().setLabel(ConsoleProfile.OUTSIDE + " (pretrain)"));
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Submit job")).click();
        assertThat(page.locator("#job-problems")).containsText("small.txt");
        assertThat(page.locator("#job-form-status")).containsText("403");
        assertThat(page.getByRole(AriaRole.DIALOG)).isHidden();
    }

    @Test
    void healthShowsQueueBatchesAndRequests() {
        given().contentType(ContentType.JSON).body(Map.of("inputs", "the cat was lovely")).post("/predict").then().statusCode(200);
        go("#health");
        assertThat(page.locator("#health-stats")).containsText("ready");
        Locator row = page.locator("#health-models tbody tr", new Page.LocatorOptions().setHasText("mosaic-cls12"));
        assertThat(row).hasCount(1);
        // requests and batches are counted: neither column reads "–" for a model that served one
        assertFalse(row.locator("td").nth(1).textContent().equals("0"));
        page.waitForFunction("() => +document.querySelector('#chart-rate').dataset.points >= 2",
                null, new Page.WaitForFunctionOptions().setTimeout(15_000));
        shot("health");
    }

    @Test
    void everyControlHasALabelAndTheKeyboardReachesThem() {
        go("#try");
        assertThat(page.locator("#try-model option")).not().hasCount(0);
        Object unlabelled = page.evaluate("() => [...document.querySelectorAll('input, select, textarea, button')]"
                + ".filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !(e.tagName === 'BUTTON' && e.textContent.trim()))"
                + ".map(e => e.id || e.outerHTML)");
        assertEquals(List.of(), unlabelled);
        // from the top of the page, Tab reaches the text box; typing and Enter on Run classify
        for (int i = 0; i < 20 && !"try-text".equals(page.evaluate("() => document.activeElement.id")); i++) page.keyboard().press("Tab");
        assertEquals("try-text", page.evaluate("() => document.activeElement.id"));
        page.keyboard().type("a dog finds the ball");
        for (int i = 0; i < 8 && !"try-run".equals(page.evaluate("() => document.activeElement.id")); i++) page.keyboard().press("Tab");
        assertEquals("try-run", page.evaluate("() => document.activeElement.id"));
        page.keyboard().press("Enter");
        assertThat(page.locator("#try-result .bars li")).not().hasCount(0);
        // the nav links are reachable too, and say which view is open
        page.getByRole(AriaRole.LINK, new Page.GetByRoleOptions().setName("Health")).focus();
        page.keyboard().press("Enter");
        assertThat(page.getByRole(AriaRole.LINK, new Page.GetByRoleOptions().setName("Health"))).hasAttribute("aria-current", "page");
        for (String view : List.of("#models", "#try", "#jobs", "#health")) {
            for (int[] size : new int[][] {{1280, 800}, {800, 600}}) {
                page.setViewportSize(size[0], size[1]);
                go(view);
                page.waitForTimeout(300);
                assertNoSideways();
            }
        }
    }

    private static int tokens(String text) {
        return given().contentType(ContentType.JSON).body(Map.of("inputs", text)).post("/v1/models/mosaic-cls12/tokenize")
                .then().statusCode(200).extract().path("[0].size()");
    }

    /** The page never needs sideways scrolling: wide tables scroll inside their own box. */
    private void assertNoSideways() {
        Object over = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth");
        assertTrue(((Number) over).intValue() <= 0, () -> page.url() + " is " + over + " px wider than the window");
    }
}
