package httpapi

import (
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"github.com/heraldhq/herald/pkg/integration"
	"github.com/heraldhq/herald/pkg/secret"
	"github.com/heraldhq/herald/pkg/subscriber"
)

// Response views: the JSON the API shows. Secrets are masked here, once.

type credentialsView struct {
	WebhookURL   string   `json:"webhookUrl,omitempty"`
	Channel      string   `json:"channel,omitempty"`
	DeviceTokens []string `json:"deviceTokens,omitempty"`
	ChannelID    string   `json:"channelId,omitempty"`
	TeamID       string   `json:"teamId,omitempty"`
	TeamName     string   `json:"teamName,omitempty"`
}

type channelView struct {
	IntegrationID         primitive.ObjectID `json:"_integrationId"`
	ProviderID            string             `json:"providerId"`
	IntegrationIdentifier string             `json:"integrationIdentifier,omitempty"`
	Credentials           credentialsView    `json:"credentials"`
	Status                string             `json:"status"`
	StatusReason          string             `json:"statusReason,omitempty"`
}

type subscriberView struct {
	ID             primitive.ObjectID `json:"_id"`
	OrganizationID primitive.ObjectID `json:"_organizationId"`
	EnvironmentID  primitive.ObjectID `json:"_environmentId"`
	SubscriberID   string             `json:"subscriberId"`
	FirstName      string             `json:"firstName,omitempty"`
	LastName       string             `json:"lastName,omitempty"`
	Email          string             `json:"email,omitempty"`
	Phone          string             `json:"phone,omitempty"`
	Avatar         string             `json:"avatar,omitempty"`
	Locale         string             `json:"locale,omitempty"`
	Data           map[string]any     `json:"data,omitempty"`
	Channels       []channelView      `json:"channels"`
	Deleted        bool               `json:"deleted"`
	CreatedAt      time.Time          `json:"createdAt"`
	UpdatedAt      time.Time          `json:"updatedAt"`
	Version        int64              `json:"__v"`
}

func (s *Server) viewSubscriber(sub *subscriber.Subscriber) subscriberView {
	v := subscriberView{
		ID: sub.ID, OrganizationID: sub.OrganizationID, EnvironmentID: sub.EnvironmentID,
		SubscriberID: sub.SubscriberID, FirstName: sub.FirstName, LastName: sub.LastName,
		Email: sub.Email, Phone: sub.Phone, Avatar: sub.Avatar, Locale: sub.Locale, Data: sub.Data,
		Channels: make([]channelView, 0, len(sub.Channels)), CreatedAt: sub.CreatedAt, UpdatedAt: sub.UpdatedAt,
		Version: sub.Version,
	}
	for _, ch := range sub.Channels {
		masked := ""
		if ch.Credentials.WebhookURL != "" {
			if plain, err := s.Cipher.Decrypt(ch.Credentials.WebhookURL); err == nil {
				masked = secret.MaskURL(plain)
			} else {
				masked = "****"
			}
		}
		status := ch.Status
		if status == "" {
			status = subscriber.StatusConnected
		}
		v.Channels = append(v.Channels, channelView{
			IntegrationID: ch.IntegrationID, ProviderID: ch.ProviderID, IntegrationIdentifier: ch.IntegrationIdentifier,
			Status: status, StatusReason: ch.StatusReason,
			Credentials: credentialsView{
				WebhookURL: masked, Channel: ch.Credentials.Channel, DeviceTokens: ch.Credentials.DeviceTokens,
				ChannelID: ch.Credentials.ChannelID, TeamID: ch.Credentials.TeamID, TeamName: ch.Credentials.TeamName,
			},
		})
	}
	return v
}

type integrationCredentialsView struct {
	ClientID      string `json:"clientId,omitempty"`
	SecretKey     string `json:"secretKey,omitempty"`
	ApplicationID string `json:"applicationId,omitempty"`
	RedirectURL   string `json:"redirectUrl,omitempty"`
	HMAC          bool   `json:"hmac"`
}

type integrationView struct {
	ID             primitive.ObjectID         `json:"_id"`
	EnvironmentID  primitive.ObjectID         `json:"_environmentId"`
	OrganizationID primitive.ObjectID         `json:"_organizationId"`
	ProviderID     string                     `json:"providerId"`
	Channel        string                     `json:"channel"`
	Name           string                     `json:"name"`
	Identifier     string                     `json:"identifier"`
	Active         bool                       `json:"active"`
	Deleted        bool                       `json:"deleted"`
	Credentials    integrationCredentialsView `json:"credentials"`
	CreatedAt      time.Time                  `json:"createdAt"`
	UpdatedAt      time.Time                  `json:"updatedAt"`
}

// maskedSecret is how a stored integration secret is shown.
const maskedSecret = "********"

func viewIntegration(in *integration.Integration) integrationView {
	cred := integrationCredentialsView{
		ClientID: in.Credentials.ClientID, ApplicationID: in.Credentials.ApplicationID,
		RedirectURL: in.Credentials.RedirectURL, HMAC: in.Credentials.HMAC,
	}
	if in.Credentials.SecretKey != "" {
		cred.SecretKey = maskedSecret
	}
	return integrationView{
		ID: in.ID, EnvironmentID: in.EnvironmentID, OrganizationID: in.OrganizationID,
		ProviderID: in.ProviderID, Channel: in.Channel, Name: in.Name, Identifier: in.Identifier,
		Active: in.Active, Credentials: cred, CreatedAt: in.CreatedAt, UpdatedAt: in.UpdatedAt,
	}
}

func viewIntegrations(list []integration.Integration) []integrationView {
	out := make([]integrationView, 0, len(list))
	for i := range list {
		out = append(out, viewIntegration(&list[i]))
	}
	return out
}
