package dev.tessera.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import java.util.List;
import java.util.Map;

/**
 * KEDA 2.x {@code keda.sh/v1alpha1 ScaledObject}, the fields of its reference (keda.sh/docs, "ScaledObject
 * specification"). fabric8 has no model for this CRD and no cluster is here to validate against it, so
 * K8sManifestsTest binds it to these records with unknown properties failing: a misspelt key fails the build.
 * The HPA behaviour inside is bound to fabric8's typed model separately.
 */
record ScaledObject(String apiVersion, String kind, ObjectMeta metadata, Spec spec) {
    record Spec(ScaleTargetRef scaleTargetRef, Integer pollingInterval, Integer cooldownPeriod,
                Integer initialCooldownPeriod, Integer idleReplicaCount, Integer minReplicaCount,
                Integer maxReplicaCount, Fallback fallback, Advanced advanced, List<Trigger> triggers) {}

    record ScaleTargetRef(String apiVersion, String kind, String name, String envSourceContainerName) {}

    record Fallback(Integer failureThreshold, Integer replicas) {}

    record Advanced(Boolean restoreToOriginalReplicaCount, HpaConfig horizontalPodAutoscalerConfig,
                    JsonNode scalingModifiers) {}

    record HpaConfig(String name, JsonNode behavior) {}

    record Trigger(String type, String name, String metricType, Boolean useCachedMetrics,
                   Map<String, String> metadata, JsonNode authenticationRef) {}
}
