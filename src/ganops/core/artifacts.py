"""File names of the artifacts stages write and read, named once (paths are in dvc.yaml)."""

GENERATOR = "generator.pt"  # models/gan/VARIANT/: the exported (best-checkpoint) generator
SAMPLES = "samples.png"  # fixed-noise grid of the latest checkpoint (samples/step_XXXXXX.png per checkpoint)
SAMPLES_DIR = "samples"
INTERPOLATION = "interpolation.gif"  # latent walk of the exported generator
LOSSES_CSV = "losses.csv"  # step + the family's logged values
QUALITY_CSV = "quality.csv"  # step + the quality probe's metrics, one row per checkpoint
CHECKPOINT = "last.pt"  # checkpoints/VARIANT/<run key>/
EVALUATOR = "evaluator.pt"
DETECTOR = "detector.pt"  # models/detector/NAME/
DETECTOR_META = "detector.json"
MANIFEST = "manifest.json"  # data/prepared/, data/fakes/VARIANT/
