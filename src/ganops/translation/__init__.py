"""Image-to-image translation GANs: pix2pix (paired) and CycleGAN (unpaired) as training-loop families.

Modules by role: `mnistm` / `pairs` (domain A and B data), `unet`, `resnet_generator`, `patchgan` and
`architectures` (networks by name), `losses`, `pool`, `schedule`, `pix2pix` / `cyclegan` (the families),
`samples` and `translator_io` (sample grids, export, loading), `metrics`. Nothing is imported here.
"""
