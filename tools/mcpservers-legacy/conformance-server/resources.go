package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

const (
	staticTextURI  = "test://static-text"
	staticBlobURI  = "test://static-binary"
	watchedURI     = "test://watched-resource"
	templatePrefix = "test://template/"
	templateSuffix = "/data"
)

func (s *server) addResources() {
	s.mcp.AddResource(&mcp.Resource{URI: staticTextURI, Name: "static-text", MIMEType: "text/plain",
		Description: "A static text resource"}, constant(staticTextURI, "text/plain",
		"This is the content of the static text resource.", nil))
	s.mcp.AddResource(&mcp.Resource{URI: staticBlobURI, Name: "static-binary", MIMEType: "image/png",
		Description: "A static binary resource (a 1x1 red PNG)"}, constant(staticBlobURI, "image/png", "", redPixelPNG))
	s.mcp.AddResource(&mcp.Resource{URI: watchedURI, Name: "watched-resource", MIMEType: "text/plain",
		Description: "Changes every -watch-interval; subscribers are notified"}, s.readWatched)
	s.mcp.AddResourceTemplate(&mcp.ResourceTemplate{URITemplate: templatePrefix + "{id}" + templateSuffix,
		Name: "template", MIMEType: "application/json", Description: "JSON data for any id"}, readTemplate)
}

func constant(uri, mimeType, body string, blob []byte) mcp.ResourceHandler {
	return func(context.Context, *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{
			{URI: uri, MIMEType: mimeType, Text: body, Blob: blob},
		}}, nil
	}
}

func (s *server) readWatched(context.Context, *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	s.mu.Lock()
	rev := s.watched
	s.mu.Unlock()
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{
		{URI: watchedURI, MIMEType: "text/plain", Text: fmt.Sprintf("Watched resource, revision %d", rev)},
	}}, nil
}

func readTemplate(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	uri := req.Params.URI
	id := strings.TrimSuffix(strings.TrimPrefix(uri, templatePrefix), templateSuffix)
	body, err := json.Marshal(map[string]any{"id": id, "templateTest": true, "data": "Data for ID: " + id})
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", uri, err)
	}
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{
		{URI: uri, MIMEType: "application/json", Text: string(body)},
	}}, nil
}

// subscribe accepts the listed resources; go-sdk keeps the subscriptions.
func subscribe(_ context.Context, req *mcp.SubscribeRequest) error {
	switch req.Params.URI {
	case staticTextURI, staticBlobURI, watchedURI:
		return nil
	}
	return mcp.ResourceNotFoundError(req.Params.URI)
}

func unsubscribe(context.Context, *mcp.UnsubscribeRequest) error { return nil }

// watchResource changes test://watched-resource every interval until ctx
// ends, and go-sdk notifies the sessions subscribed to it.
func (s *server) watchResource(ctx context.Context, every time.Duration) {
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		s.watched++
		s.mu.Unlock()
		_ = s.mcp.ResourceUpdated(ctx, &mcp.ResourceUpdatedNotificationParams{URI: watchedURI})
	}
}
