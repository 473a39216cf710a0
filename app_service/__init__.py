"""The application-service backend with v1alpha1 contracts, dual-read and dual-write."""
