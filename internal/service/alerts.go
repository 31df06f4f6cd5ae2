package service

import (
	"context"
	"net/mail"
	"net/url"
	"strings"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/problem"
	"github.com/autohook/autohook/internal/store"
)

// maxRecipients bounds an email channel's addresses.
const maxRecipients = 20

// CreateAlertChannel adds a channel: a webhook (an http or https URL; where
// it may go is the destination policy's to say, when an alert is sent) or
// email (addresses; sent through the server's --smtp-url).
func (s *Service) CreateAlertChannel(ctx context.Context, orgID string, c *autohook.AlertChannel) error {
	var probs problem.List
	c.Name = strings.TrimSpace(c.Name)
	switch {
	case c.Name == "":
		probs.Add("name", "is required")
	case len(c.Name) > 200:
		probs.Add("name", "must be at most 200 characters")
	}
	switch c.Type {
	case autohook.ChannelWebhook:
		u, err := url.Parse(c.URL)
		switch {
		case c.URL == "":
			probs.Add("url", "is required for a webhook channel: where alerts are posted")
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			probs.Add("url", "must be an absolute http or https URL")
		}
		if len(c.To) > 0 {
			probs.Add("to", "is for email channels; a webhook channel has a url")
		}
	case autohook.ChannelEmail:
		if c.URL != "" {
			probs.Add("url", "is for webhook channels; an email channel has to")
		}
		switch {
		case len(c.To) == 0:
			probs.Add("to", "is required for an email channel: at least one address")
		case len(c.To) > maxRecipients:
			probs.Add("to", "at most %d addresses", maxRecipients)
		}
		for i, addr := range c.To {
			if a, err := mail.ParseAddress(addr); err != nil || a.Name != "" {
				probs.Add(problem.Join("to", i), "%q is not an email address (name@example.com)", addr)
			}
		}
	case "":
		probs.Add("type", "is required: webhook or email")
	default:
		probs.Add("type", "must be webhook or email")
	}
	if err := probs.Err(); err != nil {
		return err
	}
	return s.st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.CreateAlertChannel(ctx, orgID, c); err != nil {
			return err
		}
		return s.audit(ctx, tx, orgID, autohook.AuditAlertChannelCreated, target("alert_channel", c.ID, c.Name), details{"type": c.Type})
	})
}

// AlertChannels lists the organisation's alert channels.
func (s *Service) AlertChannels(ctx context.Context, orgID string, page autohook.Page) ([]*autohook.AlertChannel, string, error) {
	return s.st.AlertChannels(ctx, orgID, page)
}

// DeleteAlertChannel deletes a channel; the alerts sent to it stay listed.
func (s *Service) DeleteAlertChannel(ctx context.Context, orgID, id string) error {
	return s.st.Write(ctx, func(tx *store.Tx) error {
		c, err := tx.AlertChannel(ctx, orgID, id)
		if err != nil {
			return err
		}
		if err := tx.DeleteAlertChannel(ctx, orgID, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, orgID, autohook.AuditAlertChannelDeleted, target("alert_channel", c.ID, c.Name), details{"type": c.Type})
	})
}

// TestAlertChannel sends a test alert to one channel.
func (s *Service) TestAlertChannel(ctx context.Context, orgID, id string) (*autohook.Alert, error) {
	var out *autohook.Alert
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		c, err := tx.AlertChannel(ctx, orgID, id)
		if err != nil {
			return err
		}
		alerts, err := tx.RaiseAlert(ctx, orgID, &autohook.AlertEvent{Event: autohook.EventTest}, id)
		if err != nil {
			return err
		}
		if len(alerts) == 1 {
			out = alerts[0]
		}
		return s.audit(ctx, tx, orgID, autohook.AuditAlertChannelTested, target("alert_channel", c.ID, c.Name), nil)
	})
	if err == nil && out == nil {
		err = autohook.ErrNotFound // deleted meanwhile
	}
	return out, err
}

// Alerts lists the alerts raised, newest first, with their delivery.
func (s *Service) Alerts(ctx context.Context, orgID string, page autohook.Page) ([]*autohook.Alert, string, error) {
	return s.st.Alerts(ctx, orgID, page)
}
