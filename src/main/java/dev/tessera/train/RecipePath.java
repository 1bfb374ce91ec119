package dev.tessera.train;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a recipe key that names a file or directory: {@link Recipe#paths()} lists every such key and
 * {@link Recipe#confined} passes each through a run's file access rules. A recipe key that is a path and lacks this
 * mark would escape confinement: {@code RecipePathsTest} fails for any string key not classified.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.RECORD_COMPONENT)
public @interface RecipePath {
    Use value();

    enum Use {
        /** read only (data files, tokenizer, init checkpoint) */
        READ,
        /** written (the output directory) */
        WRITE,
        /** a cache: built (written) where the run may write, otherwise only read and never rebuilt */
        CACHE
    }
}
