package dev.tessera.api;

import com.microsoft.playwright.Locator;
import com.microsoft.playwright.Page;
import com.microsoft.playwright.options.AriaRole;
import com.microsoft.playwright.options.SelectOption;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static com.microsoft.playwright.assertions.PlaywrightAssertions.assertThat;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The console on a server with API keys: the page loads without one, asks for a key at the first 401, sends it on
 * every call (the job event stream included), asks for an admin key when a write gets 403, and never shows a key.
 */
@QuarkusTest
@TestProfile(ConsoleAuthBrowserTest.Profile.class)
class ConsoleAuthBrowserTest extends BrowserSupport {
    static final String USER = "console-user-key-7", ADMIN = "console-admin-key-3";

    public static class Profile extends ConsoleProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            Map<String, String> m = new HashMap<>(super.getConfigOverrides());
            m.put("tessera.auth.api-keys", USER);
            m.put("tessera.auth.admin-keys", ADMIN);
            return m;
        }
    }

    record Sent(String method, String url, String authorization) {}

    @Test
    void asksForAKeySendsItOnEveryCallAndNeverShowsIt() {
        List<Sent> sent = Collections.synchronizedList(new ArrayList<>());
        page.onRequest(r -> {
            if (r.url().contains("/v1/")) sent.add(new Sent(r.method(), r.url(), r.headerValue("authorization")));
        });
        Locator dialog = page.getByRole(AriaRole.DIALOG);
        Locator keyField = page.getByLabel("API key", new Page.GetByLabelOptions().setExact(true));
        Locator useKey = page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Use key"));

        go("#models");
        assertThat(dialog).isVisible();
        assertThat(dialog).containsText("This server asks for an API key");
        assertEquals("password", keyField.getAttribute("type"));
        shot("auth-asks");
        // declined: the page says why it shows nothing and offers to enter a key later
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Cancel").setExact(true)).click();
        assertThat(page.locator("#banner")).containsText("401");
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Enter API key")).click();
        keyField.fill("not-a-key");
        useKey.click();
        assertThat(dialog).containsText("That API key was refused");
        keyField.fill(USER);
        useKey.click();
        assertThat(page.locator("#models-table tbody tr")).not().hasCount(0);
        assertThat(page.locator("#banner")).isHidden();
        assertEquals("", keyField.inputValue(), "the key does not stay in the page");

        // inference with the user key
        go("#try/mosaic-cls12");
        page.getByLabel("Text", new Page.GetByLabelOptions().setExact(true)).fill("the cat was lovely");
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Run")).click();
        assertThat(page.locator("#try-result .bars li")).not().hasCount(0);

        // a write with a user key is 403: the page asks for an admin key, then submits
        go("#jobs");
        page.getByLabel("Recipe", new Page.GetByLabelOptions().setExact(true))
                .selectOption(new SelectOption().setLabel(ConsoleProfile.LONG_PRETRAIN + " (pretrain)"));
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Submit job")).click();
        assertThat(dialog).containsText("needs an admin key");
        keyField.fill(ADMIN);
        useKey.click();
        page.waitForURL("**#job/job-*");
        // the curve grows: the event stream carries the key too
        page.waitForFunction("() => +document.querySelector('#chart-loss').dataset.points >= 3", null,
                new Page.WaitForFunctionOptions().setTimeout(60_000));
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Cancel job")).click();
        assertThat(page.locator("#job-status")).hasText("cancelled");

        String html = page.content();
        assertFalse(html.contains(USER) || html.contains(ADMIN), "a key shows in the page");
        List<Sent> calls = List.copyOf(sent);
        assertTrue(calls.stream().anyMatch(c -> c.url().contains("/events") && ("Bearer " + ADMIN).equals(c.authorization())),
                () -> "the event stream was not opened with the key: " + calls);
        // after the key was given, every call carried one
        int first = 0;
        while (first < calls.size() && !("Bearer " + USER).equals(calls.get(first).authorization())) first++;
        for (Sent c : calls.subList(first, calls.size())) {
            assertTrue(c.authorization() != null && c.authorization().startsWith("Bearer "), () -> "sent without a key: " + c);
        }
        assertTrue(calls.stream().anyMatch(c -> c.method().equals("POST") && c.url().endsWith("/v1/jobs")
                && ("Bearer " + ADMIN).equals(c.authorization())));

        // forgetting the key: the next call asks again
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Forget API key")).click();
        page.reload();
        assertThat(dialog).isVisible();
        shot("auth-after-forget");
        keyField.fill(USER);
        useKey.click();
        assertThat(page.locator("#job-status")).hasText("cancelled");
    }
}
