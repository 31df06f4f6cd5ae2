package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/autohook/autohook/internal/autohook"
)

// AlertJob is the queue job that delivers one alert (internal/alert works
// it): durable, retried by River with the alert's state kept in its row.
type AlertJob struct {
	OrgID   string `json:"org"`
	AlertID string `json:"alert"`
}

// Kind is the stable job kind.
func (AlertJob) Kind() string { return "autohook.alert" }

// AlertAttempts is how many times an alert is tried before it is given up.
const AlertAttempts = 8

// InsertOpts: an alert is tried AlertAttempts times.
func (AlertJob) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: AlertAttempts} }

// CreateAlertChannel adds an alert channel, setting its id and time.
func (tx *Tx) CreateAlertChannel(ctx context.Context, orgID string, c *autohook.AlertChannel) error {
	c.ID = newID("ach")
	c.CreatedAt = tx.Now()
	var to any
	if len(c.To) > 0 {
		to = encJSON(c.To)
	}
	_, err := tx.q.exec(ctx, `INSERT INTO alert_channels (id, org_id, name, type, url, recipients, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		c.ID, orgID, c.Name, c.Type, nullString(c.URL), to, us(c.CreatedAt))
	if err != nil {
		return fmt.Errorf("insert alert channel: %w", err)
	}
	return nil
}

// DeleteAlertChannel deletes an alert channel; its alerts stay listed.
func (tx *Tx) DeleteAlertChannel(ctx context.Context, orgID, id string) error {
	n, err := tx.q.exec(ctx, `DELETE FROM alert_channels WHERE org_id = ? AND id = ?`, orgID, id)
	if err != nil {
		return fmt.Errorf("delete alert channel: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

const channelCols = "id, name, type, url, recipients, created_at"

func scanChannel(r row) (*autohook.AlertChannel, error) {
	var c autohook.AlertChannel
	var url, to sql.NullString
	var created int64
	if err := r.Scan(&c.ID, &c.Name, &c.Type, &url, &to, &created); err != nil {
		return nil, err
	}
	c.URL, c.CreatedAt = url.String, fromUS(created)
	if to.Valid {
		if err := decJSON(to.String, &c.To); err != nil {
			return nil, err
		}
	}
	return &c, nil
}

// AlertChannel returns one alert channel.
func (o ops) AlertChannel(ctx context.Context, orgID, id string) (*autohook.AlertChannel, error) {
	c, err := scanChannel(o.q.queryRow(ctx, `SELECT `+channelCols+` FROM alert_channels WHERE org_id = ? AND id = ?`, orgID, id))
	if isNoRows(err) {
		return nil, ErrNotFound
	}
	return c, err
}

// AlertChannels lists alert channels, newest first.
func (o ops) AlertChannels(ctx context.Context, orgID string, page Page) ([]*autohook.AlertChannel, string, error) {
	var w where
	w.add("org_id = ?", orgID)
	return list(ctx, o, page, channelCols, "alert_channels", w, func(r rows) (*autohook.AlertChannel, error) { return scanChannel(r) },
		func(c *autohook.AlertChannel) string { return c.ID })
}

// RaiseAlert records ev as one alert per channel of the organisation (only
// channel channelID when it is not ""), each with a delivery job inserted
// with the transaction's writes. The automation's name is filled in when
// ev does not have it, then ev's Text. It returns the alerts raised (none
// without channels).
func (tx *Tx) RaiseAlert(ctx context.Context, orgID string, ev *autohook.AlertEvent, channelID string) ([]*autohook.Alert, error) {
	if ev.Automation.ID != "" && ev.Automation.Name == "" {
		err := tx.q.queryRow(ctx, `SELECT name FROM automations WHERE org_id = ? AND id = ?`, orgID, ev.Automation.ID).Scan(&ev.Automation.Name)
		if err != nil && !isNoRows(err) {
			return nil, err
		}
	}
	if ev.Text == "" {
		ev.Text = ev.Sentence()
	}
	var w where
	w.add("org_id = ?", orgID)
	if channelID != "" {
		w.add("id = ?", channelID)
	}
	rs, err := tx.q.query(ctx, `SELECT id, type FROM alert_channels`+w.String()+` ORDER BY id`, w.args...)
	if err != nil {
		return nil, err
	}
	var out []*autohook.Alert
	for rs.Next() {
		a := &autohook.Alert{Event: *ev, Status: autohook.AlertPending, CreatedAt: tx.Now()}
		if err := rs.Scan(&a.ChannelID, &a.ChannelType); err != nil {
			rs.Close()
			return nil, err
		}
		out = append(out, a)
	}
	if err := rs.Close(); err != nil {
		return nil, err
	}
	for _, a := range out {
		a.ID = newID("alr")
		_, err := tx.q.exec(ctx, `INSERT INTO alerts (id, org_id, channel_id, channel_type, event, payload, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			a.ID, orgID, a.ChannelID, a.ChannelType, ev.Event, encJSON(ev), a.Status, us(a.CreatedAt))
		if err != nil {
			return nil, fmt.Errorf("insert alert: %w", err)
		}
		tx.jobs = append(tx.jobs, river.InsertManyParams{Args: AlertJob{OrgID: orgID, AlertID: a.ID}})
	}
	return out, nil
}

const alertCols = "id, channel_id, channel_type, payload, status, attempts, error, created_at, sent_at"

func scanAlert(r row) (*autohook.Alert, error) {
	var a autohook.Alert
	var payload string
	var msg sql.NullString
	var created int64
	var sent sql.NullInt64
	if err := r.Scan(&a.ID, &a.ChannelID, &a.ChannelType, &payload, &a.Status, &a.Attempts, &msg, &created, &sent); err != nil {
		return nil, err
	}
	if err := decJSON(payload, &a.Event); err != nil {
		return nil, err
	}
	a.Error, a.CreatedAt, a.SentAt = msg.String, fromUS(created), fromNullUS(sent)
	return &a, nil
}

// Alert returns one alert.
func (o ops) Alert(ctx context.Context, orgID, id string) (*autohook.Alert, error) {
	a, err := scanAlert(o.q.queryRow(ctx, `SELECT `+alertCols+` FROM alerts WHERE org_id = ? AND id = ?`, orgID, id))
	if isNoRows(err) {
		return nil, ErrNotFound
	}
	return a, err
}

// Alerts lists alerts, newest first.
func (o ops) Alerts(ctx context.Context, orgID string, page Page) ([]*autohook.Alert, string, error) {
	var w where
	w.add("org_id = ?", orgID)
	return list(ctx, o, page, alertCols, "alerts", w, func(r rows) (*autohook.Alert, error) { return scanAlert(r) },
		func(a *autohook.Alert) string { return a.ID })
}

// MarkAlert records a delivery attempt of an alert: its status (sent,
// pending for another try, failed for good), the attempts made, the last
// error ("" for none) and, when sent, the time.
func (tx *Tx) MarkAlert(ctx context.Context, orgID, id, status string, attempts int, errMsg string, at time.Time) error {
	var sent any
	if status == autohook.AlertSent {
		sent = us(at)
	}
	_, err := tx.q.exec(ctx, `UPDATE alerts SET status = ?, attempts = ?, error = ?, sent_at = ? WHERE org_id = ? AND id = ?`,
		status, attempts, nullString(validMessage(errMsg)), sent, orgID, id)
	if err != nil {
		return fmt.Errorf("mark alert: %w", err)
	}
	return nil
}

// PruneAlerts deletes up to limit alerts (of every organisation) raised
// before cutoff whose delivery is over (sent or failed), and reports how
// many it deleted. A pending alert stays: its job would find it gone.
func (tx *Tx) PruneAlerts(ctx context.Context, before time.Time, limit int) (int, error) {
	// Alert ids sort by creation time, so the primary key finds old ones.
	n, err := tx.q.exec(ctx, `DELETE FROM alerts WHERE id IN (SELECT id FROM alerts WHERE id < ? AND status <> ? ORDER BY id LIMIT ?)`,
		idAt("alr", before), autohook.AlertPending, limit)
	if err != nil {
		return 0, fmt.Errorf("prune alerts: %w", err)
	}
	return int(n), nil
}
