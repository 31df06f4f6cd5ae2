package autohook

import (
	"context"
)

// Actor is who makes a change: an API key, or a person signed in to the web
// UI. Versions record it as savedBy, stored as JSON ({"type","id","name"}),
// so that the audit log of the teams issue and users can name their actors
// the same way and add to it.
type Actor struct {
	Type string `json:"type"` // ActorAPIKey or ActorUser
	ID   string `json:"id"`
	Name string `json:"name"`
	// Role is what the actor may do (MinRole); it is not stored with what
	// the actor did.
	Role Role `json:"-"`
}

// Actor types. Stored names are stable.
const (
	ActorAPIKey = "api_key"
	ActorUser   = "user"
)

type actorKey struct{}

// WithActor returns ctx carrying the actor of the request. The adapters set
// it where they authenticate (the API's Bearer key, the UI's session), the
// way a request's deadline travels, so that every operation that records
// who did something (a saved version; the audit log) finds it without each
// signature growing a parameter.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor WithActor put in ctx, or nil (a tool, a test,
// the bench: nobody in particular).
func ActorFrom(ctx context.Context) *Actor {
	a, ok := ctx.Value(actorKey{}).(Actor)
	if !ok {
		return nil
	}
	return &a
}

// Actor is the API key as an actor.
func (p *Principal) Actor() Actor {
	return Actor{Type: ActorAPIKey, ID: p.KeyID, Name: p.KeyName, Role: p.Role}
}

// Actor is the signed-in person as an actor.
func (ws *WebSession) Actor() Actor {
	name := ws.User.Name
	if name == "" {
		name = ws.User.Email
	}
	return Actor{Type: ActorUser, ID: ws.User.ID, Name: name, Role: ws.User.Role}
}
