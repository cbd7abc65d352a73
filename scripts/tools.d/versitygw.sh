# Sourced by scripts/tools.sh: installs versitygw, the S3-compatible server the tests run
# against (Apache-2.0; checks SigV4 on pre-signed URLs, multipart, ranged GETs). Cached in
# GOPATH/bin, so only the first `make test` on a machine builds it.
need_go_tool versitygw github.com/versity/versitygw/cmd/versitygw@v1.8.0
