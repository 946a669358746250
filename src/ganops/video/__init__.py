"""Video GANs: moving-digits clips, the video reader/writers, MoCoGAN and a VGAN-style 3D baseline,
their training steps for the shared loop, and video metrics (FVD_domain, KVD, motion).

Nothing is imported here: import the submodule you need (`ganops.video.moving_digits`, ...).
"""
