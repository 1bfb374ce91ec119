package dev.tessera.arch;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;

/** The package rules of docs/ARCHITECTURE.md, checked on the compiled classes (not the tests). */
@AnalyzeClasses(packages = "dev.tessera", importOptions = ImportOption.DoNotIncludeTests.class)
class ArchitectureTest {

    /** HTTP stays on top: api -> serving / jobs -> the rest, never back up. */
    @ArchTest
    static final ArchRule nothingBelowImportsApi = noClasses().that().resideOutsideOfPackage("dev.tessera.api..")
            .should().dependOnClassesThat().resideInAPackage("dev.tessera.api..");

    /** ONNX Runtime is an engine detail: only the engines touch it. */
    @ArchTest
    static final ArchRule onlyTheEnginesUseOnnxRuntime = noClasses().that().resideOutsideOfPackage("dev.tessera.serving.ort..")
            .should().dependOnClassesThat().resideInAPackage("ai.onnxruntime..");

    /** Native calls (FFM downcalls) only through the bindings in kernels. Mapping a file (MemorySegment) is not a call. */
    @ArchTest
    static final ArchRule onlyKernelsCallNativeCode = noClasses().that().resideOutsideOfPackage("dev.tessera.kernels..")
            .should().dependOnClassesThat().haveFullyQualifiedName("java.lang.foreign.Linker")
            .orShould().dependOnClassesThat().haveFullyQualifiedName("java.lang.foreign.SymbolLookup")
            .orShould().dependOnClassesThat().haveFullyQualifiedName("java.lang.foreign.FunctionDescriptor");

    /** Heads turn an engine's rows into answers and know nothing of how the rows were made or asked for. */
    @ArchTest
    static final ArchRule headsKnowNoEngine = noClasses().that().resideInAPackage("dev.tessera.serving.heads..")
            .should().dependOnClassesThat().resideInAnyPackage("dev.tessera.serving.ort..", "dev.tessera.tokenize..",
                    "dev.tessera.api..", "ai.onnxruntime..")
            .orShould().dependOnClassesThat().haveFullyQualifiedName("dev.tessera.serving.Engine")
            .orShould().dependOnClassesThat().haveFullyQualifiedName("dev.tessera.serving.InferenceBatcher")
            .orShould().dependOnClassesThat().haveFullyQualifiedName("dev.tessera.serving.InferenceService")
            .orShould().dependOnClassesThat().haveFullyQualifiedName("dev.tessera.serving.ServedModel");

    /** Serving knows no jobs and no training; training knows no serving. */
    @ArchTest
    static final ArchRule servingAndTrainingAreApart = noClasses().that().resideInAnyPackage("dev.tessera.serving..")
            .should().dependOnClassesThat().resideInAnyPackage("dev.tessera.jobs..", "dev.tessera.train..", "dev.tessera.study..");

    @ArchTest
    static final ArchRule trainingKnowsNoServing = noClasses().that().resideInAnyPackage("dev.tessera.train..", "dev.tessera.jobs..")
            .should().dependOnClassesThat().resideInAnyPackage("dev.tessera.serving..", "dev.tessera.cli..", "dev.tessera.study..");

    /** The leaves depend on nothing else of Tessera. */
    @ArchTest
    static final ArchRule leavesStayLeaves = noClasses().that().resideInAnyPackage("dev.tessera.model..", "dev.tessera.io..")
            .should().dependOnClassesThat().resideInAnyPackage("dev.tessera.api..", "dev.tessera.serving..", "dev.tessera.jobs..",
                    "dev.tessera.train..", "dev.tessera.data..", "dev.tessera.kernels..", "dev.tessera.hf..", "dev.tessera.onnx..",
                    "dev.tessera.cli..", "dev.tessera.study..", "dev.tessera.tokenize..", "dev.tessera.glue..", "dev.tessera.plot..");

    @ArchTest
    static final ArchRule noCyclesBetweenPackages = slices().matching("dev.tessera.(*)..").should().beFreeOfCycles();
}
