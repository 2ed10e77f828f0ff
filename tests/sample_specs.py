"""Spec fragments several test files build networks from: a ResNet bottleneck and a GoogLeNet inception module."""

# He et al. (2016) bottleneck, stride on the 3x3 as torchvision; the shortcut projects when the shape changes.
BOTTLENECK = """\
block bottleneck(width, stride = 1):
    residual:
        conv width 1x1 bias=false; batchnorm; relu
        conv width 3x3 stride=stride pad=1 bias=false; batchnorm; relu
        conv 4*width 1x1 bias=false; batchnorm
    shortcut when stride != 1 or in.channels != 4*width:
        conv 4*width 1x1 stride=stride bias=false; batchnorm
    relu
"""

# Szegedy et al. (2015) inception module: 1x1, 1x1→3x3, 1x1→5x5 and pool→1x1 branches, concatenated.
INCEPTION = """\
block inception(c1, c3r, c3, c5r, c5, pool_proj):
    concat:
        branch: conv c1 1x1; relu
        branch: conv c3r 1x1; relu; conv c3 3x3 pad=1; relu
        branch: conv c5r 1x1; relu; conv c5 5x5 pad=2; relu
        branch: maxpool 3x3 stride=1 pad=1; conv pool_proj 1x1; relu
"""
