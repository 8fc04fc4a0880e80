package main

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// authCache keeps the kernel's answers (positive ones only) for a short while. The kernel clears
// it when a credential is revoked, so revocation does not wait for entries to expire.
type authCache struct {
	ttl time.Duration

	mu         sync.RWMutex
	entries    map[string]cacheEntry
	generation uint64
}

// maxCacheEntries bounds the cache; past it, it starts over.
const maxCacheEntries = 100_000

type cacheEntry struct {
	who     identity
	expires time.Time
}

type authenticator struct {
	control           *control
	credentialHeaders []string
	cache             authCache
}

func newAuthenticator(c *control, credentialHeaders []string, ttl time.Duration) *authenticator {
	return &authenticator{control: c, credentialHeaders: credentialHeaders, cache: authCache{ttl: ttl, entries: map[string]cacheEntry{}}}
}

func (a *authenticator) invalidate() {
	a.cache.mu.Lock()
	a.cache.entries = map[string]cacheEntry{}
	a.cache.generation++
	a.cache.mu.Unlock()
}

// identify returns the caller of method, or the kernel's refusal. What the kernel decides on is
// the credential headers and any x-ol-* header (which it refuses), so only those are sent. An
// answer for a credential does not depend on the method; without one it does (public methods).
func (a *authenticator) identify(ctx context.Context, method string, md metadata.MD) (identity, *status.Status) {
	headers := map[string][]string{}
	cacheable := true
	var key strings.Builder
	for _, name := range a.credentialHeaders {
		if values := md.Get(name); len(values) > 0 {
			headers[name] = values
		}
	}
	for name, values := range md {
		if strings.HasPrefix(name, reservedPrefix) {
			headers[name] = values
			cacheable = false
		}
	}
	if len(headers) == 0 {
		key.WriteString("\x00")
		key.WriteString(method)
	} else {
		names := make([]string, 0, len(headers))
		for name := range headers {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			key.WriteString(name)
			for _, value := range headers[name] {
				key.WriteString("\x00")
				key.WriteString(value)
			}
			key.WriteString("\x01")
		}
	}
	cacheKey := key.String()
	now := time.Now()
	a.cache.mu.RLock()
	entry, found := a.cache.entries[cacheKey]
	generation := a.cache.generation
	a.cache.mu.RUnlock()
	if found && now.Before(entry.expires) {
		return entry.who, nil
	}
	who, refused := a.control.resolve(ctx, method, headers)
	if refused != nil {
		return identity{}, refused
	}
	if cacheable {
		a.cache.mu.Lock()
		// An invalidation that arrived while the kernel answered may concern this very answer.
		if a.cache.generation == generation {
			if len(a.cache.entries) >= maxCacheEntries {
				a.cache.entries = map[string]cacheEntry{}
			}
			a.cache.entries[cacheKey] = cacheEntry{who: *who, expires: now.Add(a.cache.ttl)}
		}
		a.cache.mu.Unlock()
	}
	return *who, nil
}
