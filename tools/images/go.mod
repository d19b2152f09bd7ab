// Module tools/images writes the image tarballs of the end-to-end cluster
// (hack/cluster): no Docker engine and no registry run here, so images are
// assembled from local files and imported with `ctr images import`. A module
// of its own so go-containerregistry stays out of the product's go.mod.
module github.com/archestra-ai/mcp-orchestrator/tools/images

go 1.26.0

require github.com/google/go-containerregistry v0.22.1

require (
	github.com/klauspost/compress v1.19.2 // indirect
	github.com/opencontainers/go-digest v1.0.0 // indirect
	github.com/opencontainers/image-spec v1.1.1 // indirect
)
