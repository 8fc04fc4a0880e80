package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// The identity headers of kernel/sdk/src/identity.ts: plugins verify them with the TypeScript
// verifier, so the message signed here must be byte for byte the one signIdentity signs.
const (
	headerCaller     = "x-ol-caller"
	headerAuthMethod = "x-ol-auth-method"
	headerTimestamp  = "x-ol-caller-ts"
	headerSignature  = "x-ol-caller-sig"
	reservedPrefix   = "x-ol-"
)

// identity is who the kernel says the caller is.
type identity struct {
	Address    string `json:"address"`
	AuthMethod string `json:"authMethod"`
}

// signIdentity returns the four identity headers (name, value pairs) for a call to method,
// signed with the plugin's credential at nowMs (Unix milliseconds).
func signIdentity(credential []byte, who identity, method string, nowMs int64) [8]string {
	timestamp := strconv.FormatInt(nowMs, 10)
	mac := hmac.New(sha256.New, credential)
	mac.Write([]byte(who.Address + "\n" + who.AuthMethod + "\n" + method + "\n" + timestamp))
	return [8]string{
		headerCaller, who.Address,
		headerAuthMethod, who.AuthMethod,
		headerTimestamp, timestamp,
		headerSignature, hex.EncodeToString(mac.Sum(nil)),
	}
}
