"""What the dataset builders share: the record contract (records), checking and converting
images in worker processes (images), the skip report (skip_report), checking the user's
manual folder (manual_dir), the paper's random split (splits) and the builder mix-in that
ties them to TFDS (builder). Nothing here imports TFDS at package import."""
