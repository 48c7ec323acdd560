"""Notifications: approved matches to cooperatives and partners, webhooks, inbox, reminders."""
