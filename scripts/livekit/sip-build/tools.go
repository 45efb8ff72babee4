//go:build tools

// Package tools pins livekit-sip's main package, so that `go build` in this module builds it.
package tools

import _ "github.com/livekit/sip/cmd/livekit-sip"
