"""Initial weights: torchvision ImageNet state dicts converted for the Flax backbones
(torchvision), and `model.init_from` from an imported backbone or another run (transfer)."""
