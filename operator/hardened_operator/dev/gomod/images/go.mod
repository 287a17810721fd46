// The programs inside the local node's test images (see hardened_operator/dev/images.py).
module github.com/ai-system/hardened-operator/dev/images

go 1.26.0
