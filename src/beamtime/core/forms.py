from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError


class ThrottledMessage:
    """A login form that says so when the login is locked out after repeated failures."""

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            if getattr(self.request, "login_throttled", False):
                raise ValidationError(
                    "Too many failed logins: try again in %(minutes)d minutes.",
                    code="throttled",
                    params={"minutes": settings.LOGIN_LOCKOUT_MINUTES},
                ) from None
            raise


class LoginForm(ThrottledMessage, AuthenticationForm):
    pass


class AdminLoginForm(ThrottledMessage, AdminAuthenticationForm):
    pass
