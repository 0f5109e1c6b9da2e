from ekpanel.accounts.operations import authenticate


def test_create_user_reads_password_from_stdin(app):
    result = app.test_cli_runner().invoke(
        args=["create-user", "szef", "--admin", "--password-stdin"], input="tajne-haslo-1\n"
    )
    assert result.exit_code == 0, result.output
    user = authenticate("szef", "tajne-haslo-1")
    assert user is not None and user.is_admin


def test_create_user_prompts_for_password(app):
    result = app.test_cli_runner().invoke(args=["create-user", "ewa"], input="tajne-haslo-1\ntajne-haslo-1\n")
    assert result.exit_code == 0, result.output
    assert not authenticate("ewa", "tajne-haslo-1").is_admin


def test_create_user_refuses_an_existing_login_clearly(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["create-user", "ewa", "--password-stdin"], input="tajne-haslo-1\n")
    result = runner.invoke(args=["create-user", "ewa", "--password-stdin"], input="inne-haslo-22\n")
    assert result.exit_code != 0
    assert "już istnieje" in result.output
    assert "Traceback" not in result.output


def test_create_user_refuses_a_short_password(app):
    result = app.test_cli_runner().invoke(args=["create-user", "ewa", "--password-stdin"], input="krotkie\n")
    assert result.exit_code != 0 and "8" in result.output
