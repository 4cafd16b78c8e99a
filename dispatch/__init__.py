"""SPGDT emergency medical dispatch: incidents, ambulances, hospitals, SMS."""
